/**
 * Multipart uploads into a private temp directory per request, under a server-made file name.
 * The directory is removed when the response is done, whatever happened. A body declared larger
 * than the limit is refused before a byte of it is read; an upload that stops sending is cut
 * after the idle timeout (408), which gives its admission and its temp file back at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';
import { ServiceError, TooLargeError } from '../errors.js';

export interface UploadLimits {
  readonly maxBytes: number;
  /** An upload that sends no byte for this long is cut with 408 (default 30 s; 0 = never). */
  readonly idleTimeoutMs?: number;
}

export const DEFAULT_UPLOAD_IDLE_TIMEOUT_MS = 30_000;

/** Room for the multipart framing and the text fields around the file. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/** 408: the client stopped sending its upload. */
export class UploadTimeoutError extends ServiceError {
  constructor(idleMs: number) {
    super(
      408,
      'upload_timeout',
      `upload 'video' stalled: no bytes arrived for ${(idleMs / 1000).toFixed(1)} s (serve --upload-idle-timeout); the partial upload was discarded`,
      { parameter: 'video' },
    );
  }
}

/**
 * 413 from the declared Content-Length, before anything else about the request is looked at.
 * The connection is closed after the answer: reading a body of that size is what we refuse.
 */
export function refuseDeclaredOversize(limits: UploadLimits) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const declared = Number(req.get('content-length'));
    if (Number.isFinite(declared) && declared > limits.maxBytes + MULTIPART_OVERHEAD_BYTES) {
      res.setHeader('Connection', 'close');
      next(
        new TooLargeError(
          'upload_too_large',
          `request body declares ${declared} bytes (Content-Length); uploads are limited to ${limits.maxBytes} bytes (serve --max-upload-mb)`,
          { parameter: 'video', value: declared },
        ),
      );
      return;
    }
    next();
  };
}

/** Where an accepted upload lives for the rest of the request. */
export interface UploadedVideo {
  readonly path: string;
  readonly originalName: string;
  readonly bytes: number;
}

const TEMP_DIR_KEY = 'uploadDir';
const FEATURES_KEY = 'uploadedFeatures';

/**
 * Express middleware accepting one file in field `video` (or, where `fileFields` names more, in
 * one of those: /detect-temporal also takes `features`) plus text fields. It sets
 * `req.body.<field>` to '' when the file came, so the OpenAPI validator sees the field.
 */
export function uploadMiddleware(tempRoot: string, limits: UploadLimits, fileFields: readonly string[] = ['video']) {
  const storage = multer.diskStorage({
    destination: (req, _file, callback) => callback(null, (req.res as Response).locals[TEMP_DIR_KEY] as string),
    filename: (_req, _file, callback) => callback(null, 'upload'),
  });
  const parser = multer({
    storage,
    limits: { fileSize: limits.maxBytes, files: 1, fields: 16, parts: 24, fieldSize: 4096 },
  });
  const accept =
    fileFields.length === 1 && fileFields[0] === 'video'
      ? parser.single('video')
      : parser.fields(fileFields.map((name) => ({ name, maxCount: 1 })));

  const idleMs = limits.idleTimeoutMs ?? DEFAULT_UPLOAD_IDLE_TIMEOUT_MS;

  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is('multipart/form-data')) {
      next();
      return;
    }
    const dir = mkdtempSync(join(tempRoot, 'videomae-upload-'));
    res.locals[TEMP_DIR_KEY] = dir;
    res.once('close', () => rmSync(dir, { recursive: true, force: true }));
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    // Whichever comes first, the end of the upload or the idle timeout, decides.
    const settle = (error?: unknown): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      if (error) {
        next(error);
        return;
      }
      const files = req.files as Record<string, Express.Multer.File[]> | undefined;
      if (files && !Array.isArray(files)) {
        // .fields(): one file at most (limits.files); the video is req.file as with .single()
        const [field, [file] = []] = Object.entries(files)[0] ?? [];
        if (field === 'video' && file) req.file = file;
        else if (field && file)
          res.locals[FEATURES_KEY] = { path: file.path, originalName: file.originalname, bytes: file.size } satisfies UploadedVideo;
        if (field && file) req.body = { ...(req.body as object), [field]: '' };
      } else if (req.file) req.body = { ...(req.body as object), video: '' };
      next();
    };
    const onIdle = (): void => {
      if (settled) return;
      // The stalled connection is closed with the answer; that ends multer's read too.
      res.setHeader('Connection', 'close');
      settle(new UploadTimeoutError(idleMs));
    };
    const arm = (): void => {
      clearTimeout(timer);
      if (settled) return;
      timer = setTimeout(onIdle, idleMs);
    };
    // Admitted: now the client may send the body it held back for 100 Continue.
    if (/100-continue/i.test(req.get('expect') ?? '')) {
      res.locals.continueSent = true; // the body is coming now (countOpen waits for it)
      res.writeContinue();
    }
    accept(req, res, settle);
    if (idleMs > 0) {
      // Added after multer has piped the request, so no byte is taken from it.
      arm();
      req.on('data', arm);
      res.once('close', () => clearTimeout(timer));
    }
  };
}

export function uploadedVideo(req: Request): UploadedVideo | undefined {
  if (!req.file) return undefined;
  return { path: req.file.path, originalName: req.file.originalname, bytes: req.file.size };
}

/** The precomputed features uploaded in field `features` (POST /detect-temporal), if any. */
export function uploadedFeatures(res: Response): UploadedVideo | undefined {
  return res.locals[FEATURES_KEY] as UploadedVideo | undefined;
}
