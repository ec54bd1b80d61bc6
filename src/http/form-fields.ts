/** Request options arrive as query parameters and form fields; these helpers merge them. */

/** The entries that were actually given (not undefined, not an empty form field). */
export function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value ?? {}).filter(([, v]) => v !== undefined && v !== '')) as Partial<T>;
}
