/** Data pipelines, like `torch.utils.data`: datasets and the DataLoader that batches them. */
export { TensorDataset, type Dataset } from "./dataset.js";
export { DataLoader, type DataLoaderOptions } from "./data-loader.js";
