// The shape of an Ajv standalone validator as emitted by build/gen.mjs.
export interface ValidationError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
  message?: string;
  data?: unknown;
  parentSchema?: Record<string, unknown>;
}

export interface CompiledValidator {
  (data: unknown): boolean;
  errors?: ValidationError[] | null;
}
