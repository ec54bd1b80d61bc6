/**
 * Multipart uploads into a private temp directory per request, under a server-made file name.
 * The directory is removed when the response is done, whatever happened.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import multer from 'multer';

export interface UploadLimits {
  readonly maxBytes: number;
}

/** Where an accepted upload lives for the rest of the request. */
export interface UploadedVideo {
  readonly path: string;
  readonly originalName: string;
  readonly bytes: number;
}

const TEMP_DIR_KEY = 'uploadDir';

/**
 * Express middleware accepting one file in field `video` plus text fields. It sets
 * `req.body.video` to '' when the file came, so the OpenAPI validator sees the required field.
 */
export function uploadMiddleware(tempRoot: string, limits: UploadLimits) {
  const storage = multer.diskStorage({
    destination: (req, _file, callback) => callback(null, (req.res as Response).locals[TEMP_DIR_KEY] as string),
    filename: (_req, _file, callback) => callback(null, 'upload'),
  });
  const accept = multer({
    storage,
    limits: { fileSize: limits.maxBytes, files: 1, fields: 16, parts: 24, fieldSize: 4096 },
  }).single('video');

  return (req: Request, res: Response, next: NextFunction): void => {
    if (!req.is('multipart/form-data')) {
      next();
      return;
    }
    const dir = mkdtempSync(join(tempRoot, 'videomae-upload-'));
    res.locals[TEMP_DIR_KEY] = dir;
    res.once('close', () => rmSync(dir, { recursive: true, force: true }));
    accept(req, res, (error?: unknown) => {
      if (error) {
        next(error);
        return;
      }
      if (req.file) req.body = { ...(req.body as object), video: '' };
      next();
    });
  };
}

export function uploadedVideo(req: Request): UploadedVideo | undefined {
  if (!req.file) return undefined;
  return { path: req.file.path, originalName: req.file.originalname, bytes: req.file.size };
}
