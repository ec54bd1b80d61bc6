/**
 * Checks responses against openapi/openapi.yaml with an independent JSON Schema validator (Ajv,
 * draft 2020-12, which OpenAPI 3.1 schemas are): the status must be one the operation declares,
 * and the body must match that response's schema.
 */
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { expect } from 'vitest';
import { loadOpenApiDocument } from '../../src/http/app.js';

const document = loadOpenApiDocument() as Record<string, any>;
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
ajv.addSchema({ ...document, $id: 'openapi' });

const compiled = new Map<string, ValidateFunction>();

function resolve(node: any): any {
  if (node && typeof node.$ref === 'string') {
    const path = node.$ref
      .replace(/^#\//, '')
      .split('/')
      .map((p: string) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    return path.reduce((acc: any, key: string) => acc[key], document);
  }
  return node;
}

export interface ResponseLike {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Asserts that `response` is a documented response of `method path`, schema and all. */
export function expectMatchesSpec(response: ResponseLike, method: string, path: string): void {
  const operation = document.paths[path]?.[method.toLowerCase()];
  expect(operation, `${method} ${path} is not in the spec`).toBeDefined();
  const declared = resolve(operation.responses[String(response.status)]);
  expect(declared, `${method} ${path} does not declare status ${response.status}; body: ${JSON.stringify(response.body)}`).toBeDefined();
  expect(response.headers['content-type']).toMatch(/application\/json/);
  const key = `${method} ${path} ${response.status}`;
  let check = compiled.get(key);
  if (!check) {
    check = ajv.compile(rewriteRefs(declared.content['application/json'].schema) as object);
    compiled.set(key, check);
  }
  const valid = check(response.body);
  expect(valid, `response of ${key} breaks the spec: ${ajv.errorsText(check.errors)}\n${JSON.stringify(response.body).slice(0, 500)}`).toBe(
    true,
  );
}

/** Inline schemas refer to '#/components/...' of the document; point them at the registered copy. */
function rewriteRefs(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replace(/"\$ref":"#\//g, '"$ref":"openapi#/'));
}

/** Asserts the error shape and status/code of a failed request. */
export function expectError(response: ResponseLike, method: string, path: string, status: number, code: string): void {
  expect(response.status, JSON.stringify(response.body)).toBe(status);
  expectMatchesSpec(response, method, path);
  const body = response.body as { error: { status: number; code: string; message: string } };
  expect(body.error.status).toBe(status);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(10);
}

/** Asserts that `value` matches `#/components/schemas/<name>` (an event's data, say). */
export function expectMatchesSchema(value: unknown, name: string): void {
  expect(document.components.schemas[name], `schema ${name} is not in the spec`).toBeDefined();
  const key = `#schema ${name}`;
  let check = compiled.get(key);
  if (!check) {
    check = ajv.compile({ $ref: `openapi#/components/schemas/${name}` });
    compiled.set(key, check);
  }
  expect(check(value), `${name} breaks the spec: ${ajv.errorsText(check.errors)}\n${JSON.stringify(value).slice(0, 500)}`).toBe(true);
}
