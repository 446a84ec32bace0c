/**
 * The body of a successful predict response, `{"predictions": [[...], ...]}`, written straight
 * from the model's float32 outputs: the same text as JSON.stringify of the nested arrays (a
 * number is written as String writes it; a NaN or infinite output as null), without building
 * the arrays first.
 */
export function predictionsJson(y: Float32Array, rows: number, width: number): string {
  let s = '{"predictions":[';
  for (let i = 0; i < rows; i++) {
    s += i === 0 ? "[" : ",[";
    for (let j = 0; j < width; j++) {
      const v = y[i * width + j];
      if (j > 0) s += ",";
      s += Number.isFinite(v) ? String(v) : "null";
    }
    s += "]";
  }
  return s + "]}";
}
