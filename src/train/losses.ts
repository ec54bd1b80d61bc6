/** Training losses. Every one returns a scalar averaged the way the official code does. */
import * as tf from '@tensorflow/tfjs';
import type { LevelTensors } from './actionformer.js';

/**
 * Pretraining loss: squared error averaged over the pixels of each predicted token, then over
 * the tokens whose weight is 1 (masked for the encoder and reconstructed by the decoder).
 */
export function maskedReconstructionLoss(prediction: tf.Tensor, target: tf.Tensor, weight: tf.Tensor): tf.Scalar {
  const perToken = tf.mean(tf.squaredDifference(prediction, target), -1);
  return tf.div(tf.sum(tf.mul(perToken, weight)), tf.maximum(tf.sum(weight), 1)) as tf.Scalar;
}

/** Cross-entropy against soft targets (label smoothing, mixup), mean over the batch. */
export function softTargetCrossEntropy(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.mean(tf.sum(tf.mul(tf.neg(targets), tf.logSoftmax(logits)), -1)) as tf.Scalar;
}

/**
 * Distillation: KL(teacher_T || student_T) x T^2, with both distributions softened by the
 * temperature, summed over classes and averaged over the batch (Hinton et al.).
 */
export function distillationLoss(studentLogits: tf.Tensor, teacherLogits: tf.Tensor, temperature: number): tf.Scalar {
  const teacher = tf.softmax(tf.div(teacherLogits, temperature));
  const logTeacher = tf.logSoftmax(tf.div(teacherLogits, temperature));
  const logStudent = tf.logSoftmax(tf.div(studentLogits, temperature));
  const kl = tf.sum(tf.mul(teacher, tf.sub(logTeacher, logStudent)), -1);
  return tf.mul(tf.mean(kl), temperature * temperature) as tf.Scalar;
}

/**
 * Sigmoid focal loss (Lin et al.), summed: alpha_t (1 - p_t)^gamma BCE(logit, target), with
 * `weight` [..., 1] selecting the positions that count (torchvision's sigmoid_focal_loss).
 */
export function sigmoidFocalLoss(logits: tf.Tensor, targets: tf.Tensor, weight: tf.Tensor, alpha = 0.25, gamma = 2): tf.Scalar {
  const p = tf.sigmoid(logits);
  // BCE with logits, stable: max(x, 0) - x t + log(1 + exp(-|x|))
  const ce = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, targets)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
  const pT = tf.add(tf.mul(p, targets), tf.mul(tf.sub(1, p), tf.sub(1, targets)));
  const alphaT = tf.add(tf.mul(targets, alpha), tf.mul(tf.sub(1, targets), 1 - alpha));
  const loss = tf.mul(tf.mul(ce, tf.pow(tf.sub(1, pT), gamma)), alphaT);
  return tf.sum(tf.mul(loss, weight)) as tf.Scalar;
}

/**
 * ActionFormer's centre-DIoU loss on (left, right) distances, summed over positions with weight 1:
 * 1 - IoU + (centre distance / enclosing length)^2.
 */
export function diouLoss1d(pred: tf.Tensor, target: tf.Tensor, weight: tf.Tensor, eps = 1e-8): tf.Scalar {
  const [lp, rp] = tf.split(pred, 2, -1) as [tf.Tensor, tf.Tensor];
  const [lg, rg] = tf.split(target, 2, -1) as [tf.Tensor, tf.Tensor];
  const intersection = tf.add(tf.minimum(lp, lg), tf.minimum(rp, rg));
  const union = tf.sub(tf.add(tf.add(lp, rp), tf.add(lg, rg)), intersection);
  const iou = tf.div(intersection, tf.maximum(union, eps));
  const enclosing = tf.add(tf.maximum(lp, lg), tf.maximum(rp, rg));
  const rho = tf.mul(tf.sub(tf.sub(rp, lp), tf.sub(rg, lg)), 0.5);
  const loss = tf.add(tf.sub(1, iou), tf.square(tf.div(rho, tf.maximum(enclosing, eps))));
  return tf.sum(tf.mul(loss, weight)) as tf.Scalar;
}

/**
 * AVA multi-label loss: binary cross-entropy with logits, averaged over boxes and classes
 * (F.binary_cross_entropy_with_logits, reduction 'mean'); targets [R, C] are multi-hot.
 */
export function multiLabelBce(logits: tf.Tensor, targets: tf.Tensor): tf.Scalar {
  return tf.losses.sigmoidCrossEntropy(targets, logits) as tf.Scalar;
}

/** ActionFormer point targets as tensors: cls [B, P, classes], offsets [B, P, 2], positive [B, P, 1]. */
export interface ActionFormerTargetTensors {
  readonly cls: tf.Tensor;
  readonly offsets: tf.Tensor;
  readonly positive: tf.Tensor;
}

/**
 * ActionFormer's training loss (PtTransformer.losses): sigmoid focal loss over the valid points of
 * every level plus `regressionWeight` x centre-DIoU over the positive ones, both sums divided by
 * the loss normalizer (the EMA of the positive count).
 */
export function actionFormerLoss(
  levels: readonly LevelTensors[],
  targets: ActionFormerTargetTensors,
  normalizer: number,
  options: { readonly focalAlpha: number; readonly focalGamma: number; readonly regressionWeight: number },
): tf.Scalar {
  const logits = tf.concat(
    levels.map((l) => l.logits),
    1,
  );
  const offsets = tf.concat(
    levels.map((l) => l.offsets),
    1,
  );
  const valid = tf
    .concat(
      levels.map((l) => l.mask),
      1,
    )
    .expandDims(2);
  const cls = sigmoidFocalLoss(logits, targets.cls, valid, options.focalAlpha, options.focalGamma);
  const reg = diouLoss1d(offsets, targets.offsets, targets.positive);
  return tf.div(tf.add(cls, tf.mul(reg, options.regressionWeight)), normalizer) as tf.Scalar;
}
