/**
 * Turns whatever a request can throw (our ServiceErrors, the OpenAPI validator's errors, multer's
 * upload errors, JSON parse errors) into one ServiceError, and that into the one error body.
 */
import multer from 'multer';
import { describeValue, InsufficientStorageError, isStorageFull, ServiceError, TooLargeError } from '../errors.js';
import type { components } from './generated/openapi.js';

export type ErrorBody = components['schemas']['Error'];

interface ValidatorItem {
  path?: string;
  message?: string;
  errorCode?: string;
}

interface ValidatorError {
  status: number;
  message: string;
  errors?: ValidatorItem[];
}

function isValidatorError(error: unknown): error is ValidatorError {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as ValidatorError).status === 'number' &&
    Array.isArray((error as ValidatorError).errors)
  );
}

/** '/query/topK' or '/body/topK' or '.query.topK' -> 'topK' */
function parameterFromPath(path: string | undefined): string | undefined {
  if (!path) return undefined;
  const parts = path.split(/[/.]/).filter(Boolean);
  if (parts[0] === 'query' || parts[0] === 'body' || parts[0] === 'headers' || parts[0] === 'params') parts.shift();
  return parts.length ? parts.join('.') : undefined;
}

/** Where the validator found a bad value, so the message can echo it. */
export type ParameterLookup = (parameter: string) => unknown;

function fromValidator(error: ValidatorError, lookup: ParameterLookup): ServiceError {
  const first = error.errors?.[0] ?? {};
  const message = first.message ?? error.message;
  const unknownQuery = /^Unknown query parameter '(.+)'$/.exec(message);
  if (unknownQuery) {
    return new ServiceError(400, 'unknown_parameter', `parameter '${unknownQuery[1]}' is not accepted by this endpoint`, {
      parameter: unknownQuery[1]!,
    });
  }
  const parameter = parameterFromPath(first.path);
  switch (error.status) {
    case 400: {
      if (first.errorCode === 'required.openapi.validation' || /must have required property/.test(message)) {
        const missing = /'([^']+)'/.exec(message)?.[1] ?? parameter;
        return new ServiceError(400, 'missing_parameter', `parameter '${missing}' is required`, missing ? { parameter: missing } : {});
      }
      if (/must NOT have additional properties/.test(message)) {
        return new ServiceError(
          400,
          'unknown_parameter',
          `request has a field this endpoint does not accept (${message})`,
          parameter ? { parameter } : {},
        );
      }
      if (!parameter) return new ServiceError(400, 'invalid_parameter', message);
      const value = lookup(parameter);
      return new ServiceError(
        400,
        'invalid_parameter',
        `parameter '${parameter}' ${message} (got ${describeValue(value)})`,
        value === undefined ? { parameter } : { parameter, value },
      );
    }
    case 404:
      return new ServiceError(404, 'not_found', `no endpoint at this path (${message})`);
    case 405:
      return new ServiceError(405, 'method_not_allowed', message);
    case 413:
      return new TooLargeError('upload_too_large', message, { parameter: 'video' });
    case 415:
      return new ServiceError(415, 'unsupported_content_type', `request body must be multipart/form-data (${message})`, {
        parameter: 'Content-Type',
      });
    default:
      return new ServiceError(error.status >= 400 && error.status < 600 ? error.status : 500, 'request_rejected', message);
  }
}

function fromMulter(error: multer.MulterError, maxBytes: number): ServiceError {
  switch (error.code) {
    case 'LIMIT_FILE_SIZE':
      return new TooLargeError('upload_too_large', `upload '${error.field ?? 'video'}' exceeds the limit of ${maxBytes} bytes`, {
        parameter: error.field ?? 'video',
      });
    case 'LIMIT_UNEXPECTED_FILE':
      return new ServiceError(400, 'unexpected_file', `file field '${error.field}' is not accepted; upload the video in field 'video'`, {
        parameter: error.field ?? '',
      });
    default:
      return new ServiceError(
        400,
        'invalid_upload',
        `multipart upload rejected: ${error.message}`,
        error.field ? { parameter: error.field } : {},
      );
  }
}

export function toServiceError(error: unknown, maxUploadBytes: number, lookup: ParameterLookup = () => undefined): ServiceError {
  if (error instanceof ServiceError) return error;
  if (error instanceof multer.MulterError) return fromMulter(error, maxUploadBytes);
  if (isStorageFull(error)) return new InsufficientStorageError('the upload');
  if (isValidatorError(error)) return fromValidator(error, lookup);
  if (error instanceof Error && /Unexpected end of form|Malformed part header|Multipart: Boundary not found/i.test(error.message)) {
    return new ServiceError(400, 'invalid_upload', `multipart body is malformed: ${error.message}`, { parameter: 'video' });
  }
  return new ServiceError(500, 'internal_error', 'internal error; the server log has the details');
}

export function errorBody(error: ServiceError): ErrorBody {
  const body: ErrorBody['error'] = { status: error.status, code: error.code, message: error.message };
  if (error.details.parameter !== undefined) body.parameter = error.details.parameter;
  if (error.details.value !== undefined) body.value = error.details.value;
  return { error: body };
}
