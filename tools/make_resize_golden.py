#!/usr/bin/python3
"""Golden pixels of the official VideoMAE V2 test loaders, for src/video/decode.ts and
src/video/resize-linear.ts: frames decoded by cv2.VideoCapture (FFmpeg inside), BGR -> RGB, then
cv2.resize(frame, (w, h), interpolation=cv2.INTER_LINEAR), as video_transforms.Resize does.

Needs Debian's python3-opencv (and ffmpeg to encode the generated videos):

    /usr/bin/python3 tools/make_resize_golden.py

writes
  test/fixtures/official-pixels/*.mp4   small videos encoded here with ffmpeg (committed, so the
                                        test decodes the very bytes the golden came from)
  test/fixtures/official-pixels.json    per video and frame: sha256 of the native RGB frame; per
                                        target size: sha256 of the resized frame and, zlib + base64,
                                        the resized rows the test compares value by value (every
                                        row for small sizes, the border rows and every 8th row else)
  test/fixtures/resize-linear-golden.json  tiny arrays (random, ramps) and cv2's resize of them
"""
import base64
import hashlib
import json
import os
import subprocess
import sys
import zlib

import cv2
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
VIDEO_DIR = os.path.join(FIXTURES, 'official-pixels')
VTEST = '/usr/share/doc/opencv-doc/examples/data/vtest.avi'

# Generated videos: (file, lavfi source, encoder args). Odd sizes need 4:4:4 in H.264.
GENERATED = [
    ('testsrc2-320x240-yuv420p.mp4', 'testsrc2=size=320x240:rate=25,format=yuv420p',
     ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv420p', '-threads', '1']),
    ('testsrc2-333x187-yuv444p.mp4', 'testsrc2=size=334x188:rate=25,format=yuv444p,crop=333:187:0:0',
     ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '23', '-pix_fmt', 'yuv444p', '-threads', '1']),
    ('mandelbrot-176x100-yuv420p.mp4', 'mandelbrot=size=176x100:rate=25',
     ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-pix_fmt', 'yuv420p', '-threads', '1']),
]
GENERATED_FRAMES = 12


def short_side(w, h, s):
    """get_resize_sizes / resizeShortSide: short side to s, the long side truncated."""
    return (s, int(s * h / w)) if w < h else (int(s * w / h), s)


def full_frame(w, h, s=256, multiple=16):
    """fullFrameInputSize: short side s, each side rounded to the patch."""
    scale = s / min(w, h)
    return tuple(max(multiple, round(v * scale / multiple) * multiple) for v in (w, h))


def targets(w, h):
    sizes = [short_side(w, h, 224), full_frame(w, h), (w // 2, h // 2), (97, 61), (32, 24), (2 * w + 3, h + 1)]
    if max(w, h) > 400:
        sizes.pop()  # no 1.5 MB upscales of the large video
    out = []
    for size in sizes:
        if size not in out and size != (w, h):
            out.append(size)
    return out


def sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def compared_rows(h):
    """Rows whose values the test compares: all of a small frame; else the two at each border and every 8th."""
    if h <= 64:
        return list(range(h))
    return sorted(set([0, 1, h - 2, h - 1] + list(range(0, h, 8))))


def pack(a):
    return base64.b64encode(zlib.compress(np.ascontiguousarray(a).tobytes(), 9)).decode('ascii')


def read_frames(path, indices):
    cap = cv2.VideoCapture(path)
    assert cap.isOpened(), path
    wanted, frames, n = set(indices), {}, 0
    while n <= max(indices):
        ok, bgr = cap.read()
        if not ok:
            break
        if n in wanted:
            frames[n] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        n += 1
    assert len(frames) == len(indices), (path, sorted(frames))
    return [frames[i] for i in indices]


def video_entry(name, path, indices, fps):
    frames = read_frames(path, indices)
    h, w = frames[0].shape[:2]
    entry = {'name': name, 'fps': fps, 'width': w, 'height': h, 'indices': indices, 'frames': []}
    if path.startswith(VIDEO_DIR):
        with open(path, 'rb') as f:
            entry['fileSha256'] = hashlib.sha256(f.read()).hexdigest()
    for index, rgb in zip(indices, frames):
        frame = {'index': index, 'nativeSha256': sha256(rgb), 'resized': []}
        for (tw, th) in targets(w, h):
            out = cv2.resize(rgb, (tw, th), interpolation=cv2.INTER_LINEAR)
            rows = compared_rows(th)
            frame['resized'].append({'width': tw, 'height': th, 'sha256': sha256(out), 'rows': rows, 'values': pack(out[rows])})
        entry['frames'].append(frame)
    return entry


def encode(file, source, args):
    path = os.path.join(VIDEO_DIR, file)
    subprocess.run(['ffmpeg', '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source,
                    '-frames:v', str(GENERATED_FRAMES), *args, '-an', path], check=True)
    return path


def tiny_cases():
    rng = np.random.default_rng(15)
    sources = {
        'random 7x5': rng.integers(0, 256, (5, 7, 3), dtype=np.uint8),
        'random 1x1': rng.integers(0, 256, (1, 1, 3), dtype=np.uint8),
        'random 3x8': rng.integers(0, 256, (8, 3, 3), dtype=np.uint8),
        'ramp 16x4': np.stack([np.tile(np.arange(16, dtype=np.uint8) * 17, (4, 1))] * 3, axis=-1),
        'extremes 6x6': (rng.integers(0, 2, (6, 6, 3)) * 255).astype(np.uint8),
    }
    sizes = [(3, 2), (1, 1), (4, 3), (5, 7), (11, 13), (14, 10), (2, 9), (16, 4), (32, 8)]
    cases = []
    for name, src in sources.items():
        h, w = src.shape[:2]
        outs = []
        for (tw, th) in sizes:
            if (tw, th) == (w, h):
                continue
            outs.append({'width': tw, 'height': th, 'rgb': cv2.resize(src, (tw, th), interpolation=cv2.INTER_LINEAR).flatten().tolist()})
        cases.append({'name': name, 'width': w, 'height': h, 'rgb': src.flatten().tolist(), 'resized': outs})
    return cases


def main():
    os.makedirs(VIDEO_DIR, exist_ok=True)
    videos = []
    if os.path.exists(VTEST):
        videos.append(video_entry('vtest.avi', VTEST, [0, 101, 402], 10))
    else:
        sys.exit(f'{VTEST} is missing: apt-get install opencv-doc')
    for file, source, args in GENERATED:
        path = encode(file, source, args)
        videos.append(video_entry(file, path, [0, 5, GENERATED_FRAMES - 1], 25))
    golden = {
        'opencv': cv2.__version__,
        'note': 'cv2.VideoCapture frames (BGR -> RGB) and cv2.resize INTER_LINEAR; made by tools/make_resize_golden.py',
        'videos': videos,
    }
    with open(os.path.join(FIXTURES, 'official-pixels.json'), 'w') as f:
        json.dump(golden, f, separators=(',', ':'))
    with open(os.path.join(FIXTURES, 'resize-linear-golden.json'), 'w') as f:
        json.dump({'opencv': cv2.__version__, 'cases': tiny_cases()}, f, separators=(',', ':'))


if __name__ == '__main__':
    main()
