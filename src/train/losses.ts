/** Training losses. Every one returns a scalar averaged the way the official code does. */
import * as tf from '@tensorflow/tfjs';

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
