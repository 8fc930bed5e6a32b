// Module resolve hook (registered by uvu-register.mjs): 'uvu' -> uvu-one-test.mjs, except for the
// import inside that module itself, which gets the real uvu.
const WRAPPER = new URL('./uvu-one-test.mjs', import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === 'uvu' && context.parentURL !== WRAPPER) return { url: WRAPPER, shortCircuit: true };
  return next(specifier, context);
}
