// A Stryker ignorer (build/mutation/stryker.config.json "ignorers"): no mutants inside a call to
// our logger, `<something>.log.info(...)` / `.error(...)` / `.warn(...)` / `.debug(...)` or
// `log.*(...)`. Those lines are for an operator reading the log: an event's name or fields
// changed there changes no answer, no file and no namespace, so such a mutant could only be
// "killed" by a test pinning log wording. Mutants in the code around a log call (the condition
// deciding whether it is logged) are still made, and listed when they survive.
import { declareValuePlugin, PluginKind } from '@stryker-mutator/api/plugin';

const LEVELS = new Set(['info', 'warn', 'error', 'debug']);

/** `log.info`, `ctx.log.info`, `this.log.error`... */
function isLoggerCall(node) {
  if (node.type !== 'CallExpression' || node.callee.type !== 'MemberExpression') return false;
  const { object, property } = node.callee;
  if (property.type !== 'Identifier' || !LEVELS.has(property.name)) return false;
  if (object.type === 'Identifier') return object.name === 'log';
  return object.type === 'MemberExpression' && object.property.type === 'Identifier' && object.property.name === 'log';
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'log-calls', {
    shouldIgnore(path) {
      // A statement, or the body of an arrow (`(x) => log.info(...)`, a logging callback).
      const call = path.isExpressionStatement() ? path.node.expression : path.isArrowFunctionExpression() ? path.node.body : undefined;
      if (call && isLoggerCall(call)) return 'a log line: read by people, no behaviour depends on its text';
      return undefined;
    },
  }),
];
