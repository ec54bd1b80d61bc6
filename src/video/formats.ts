/**
 * Video containers and codecs people actually upload, the defaults of probe, decode and the limits
 * check (VideoLimits.allowedContainers / allowedCodecs override them). ffmpeg reads far more (text
 * files play as ANSI art through its `tty` demuxer, images through `image2`), and none of that is a video.
 */
export const DEFAULT_CONTAINERS: readonly string[] = [
  'mov',
  'mp4',
  'matroska',
  'webm',
  'avi',
  'mpeg',
  'mpegts',
  'flv',
  'ogg',
  'asf',
  'm4v',
  'ivf',
  'nut',
  '3gp',
];
export const DEFAULT_CODECS: readonly string[] = [
  'h264',
  'hevc',
  'vp8',
  'vp9',
  'av1',
  'mpeg4',
  'mpeg1video',
  'mpeg2video',
  'msmpeg4v1',
  'msmpeg4v2',
  'msmpeg4v3',
  'mjpeg',
  'theora',
  'wmv1',
  'wmv2',
  'wmv3',
  'vc1',
  'h263',
  'flv1',
  'prores',
  'dnxhd',
  'ffv1',
  'dvvideo',
  'rawvideo',
];
