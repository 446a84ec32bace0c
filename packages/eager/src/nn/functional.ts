/** Functional forms of the layers and losses, like `torch.nn.functional`. */
export { linear } from "./layers.js";
export { mseLoss, crossEntropy, binaryCrossEntropyWithLogits } from "./loss.js";
export { relu, tanh, sigmoid, logSoftmax, softmax } from "../ops.js";
export { conv2d, maxPool2d, avgPool2d, flatten, dropout } from "./conv.js";
