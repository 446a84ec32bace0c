/** Neural-network building blocks with PyTorch's names and semantics. */
export { Module, Parameter, parameter, isParameter } from "./module.js";
export { ModuleList, ModuleDict, ParameterList, ParameterDict } from "./containers.js";
export { RNN, RNNCell, LSTM, type RNNOptions, type LSTMOptions } from "./recurrent.js";
export { Linear, ReLU, Tanh, Sigmoid, Sequential, linear, type LinearOptions } from "./layers.js";
export { Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, type Conv2dLayerOptions } from "./conv.js";
export { MSELoss, CrossEntropyLoss, BCEWithLogitsLoss, mseLoss, crossEntropy, binaryCrossEntropyWithLogits } from "./loss.js";
export { save, load, saveTensors, loadTensors } from "./serialization.js";
export * as functional from "./functional.js";
