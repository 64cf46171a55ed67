import type { z } from 'zod';
import { ValidationError } from './errors.js';

/** Turns zod issues into one readable line: `available_spaces: Too small: expected number to be >=0`. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
}

/** The edge of every socket event and HTTP body: parsed by its schema, or a VALIDATION_ERROR that says why. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.slice(0, 5).map((i) => ({ path: i.path.map(String), message: i.message }));
    throw new ValidationError(describeIssues(parsed.error), details);
  }
  return parsed.data;
}
