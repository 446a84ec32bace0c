import { describe, expect, it } from "vitest";
import { allocator } from "@dualgrad/core";
import { DeviceTensor, Variable, fn, put, read, tensor, type HostTensor, type SymbolicTensor } from "../src/index.js";

/**
 * A disposed DeviceTensor's or Variable's memory goes back to core's allocator and is handed to
 * the next tensor: reading it, or running a compiled graph that writes it, must throw and name
 * the tensor by dtype and shape, never read or overwrite someone else's numbers.
 */
describe("graph tensors after dispose", () => {
  it("DeviceTensor: data throws naming it; shape and dtype stay readable", () => {
    const x = put(tensor([[1, 2, 3]]));
    x.dispose();
    expect(() => x.data).toThrow("data: DeviceTensor float32[1,3] used after dispose()");
    expect(x.shape).toEqual([1, 3]);
    expect(x.dtype).toBe("float32");
  });

  it("a disposed DeviceTensor passed to a compiled function throws", () => {
    const double = fn<HostTensor>((t: SymbolicTensor) => t.mul(2));
    const x = new DeviceTensor([2], "float32", [1, 2]);
    expect(Array.from(double(x).data)).toEqual([2, 4]);
    x.dispose();
    expect(() => double(x)).toThrow("data: DeviceTensor float32[2] used after dispose()");
    double.dispose();
  });

  it("Variable: data, value and assign throw naming it; shape and dtype stay readable", () => {
    const w = new Variable([2, 2], "float64", { name: "w_disposed", init: [1, 2, 3, 4] });
    w.dispose();
    expect(() => w.data).toThrow("data: Variable w_disposed float64[2,2] used after dispose()");
    expect(() => w.value).toThrow(/Variable w_disposed float64\[2,2\] used after dispose/);
    expect(() => w.assign([0, 0, 0, 0])).toThrow("assign: Variable w_disposed float64[2,2] used after dispose()");
    expect(w.shape).toEqual([2, 2]);
    expect(w.dtype).toBe("float64");
  });

  it("a compiled function whose variable was disposed throws before running a kernel", () => {
    const before = allocator.stats().liveBytes;
    const counter = new Variable([1], "float32", { name: "disposed_counter" });
    const inc = fn((x: SymbolicTensor) => {
      const next = read(counter).add(x);
      next.builder.assign(counter, next.id);
      return next;
    });
    inc(tensor([1]));
    expect(counter.data[0]).toBe(1);
    counter.dispose();
    // The freed block goes to the next tensor of its size class; the step must not write it.
    const bystander = new DeviceTensor([1], "float32", [42]);
    expect(() => inc(tensor([1]))).toThrow("run: Variable disposed_counter float32[1] used after dispose()");
    expect(bystander.data[0]).toBe(42);
    bystander.dispose();
    inc.dispose();
    expect(allocator.stats().liveBytes).toBe(before);
  });
});
