/** The ONNX model file in a model folder: kept byte for byte as the user exported it. */
export const ONNX_FILE = 'model.onnx';
