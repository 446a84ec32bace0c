/**
 * Matrix-multiply kernels: `C = op(A) @ op(B)` over float32 or float64 buffers.
 *
 * Two implementations with one signature:
 * - {@link gemmReference}: the textbook triple loop, the oracle for tests.
 * - {@link gemm}: packed, register-tiled, cache-blocked, in plain TypeScript (one thread).
 *
 * ## Determinism contract (why the two agree bitwise)
 *
 * Every element is computed as
 *
 *     acc = 0 (a JS double); for p = 0, 1, ..., k-1: acc += A[i,p] * B[p,j]; C[i,j] = acc
 *
 * with the sum in increasing `p`, in a double, and a single store into C (which rounds to float32
 * when C is a Float32Array). Both kernels follow it exactly, so their results are bitwise identical
 * for every shape, transpose flag and dtype: the fast kernel reorders *which* (i, j) are computed
 * when, never the order of the additions inside one element. In particular it does **not** block
 * over k (a k-block would have to spill the partial sums, and spilling them to a float32 C would
 * round them); instead each packed panel spans the full k, which for the sizes dualgrad runs
 * (k up to a few thousand) still fits in L2. Packing float32 values into float64 scratch is exact,
 * and so is the product of two float32 values in a double, so packing changes no bits either.
 * JavaScript never fuses a multiply and an add, so there is no FMA to differ between the paths.
 */

/** The buffers a gemm reads and writes. */
type FloatArray = Float32Array | Float64Array;

/** Throws unless `v` is a non-negative integer (a size or an offset). */
function checkCount(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`gemm: ${name} must be a non-negative integer, got ${v}`);
}

/** Throws unless a `rows x cols` matrix stored from `off` fits in `buf`; `name` labels it in the message. */
function checkFits(name: string, rows: number, cols: number, buf: FloatArray, off: number): void {
  const size = rows * cols;
  if (size > 0 && off + size > buf.length) {
    throw new RangeError(`gemm: ${name} [${rows}x${cols}] needs ${size} elements from offset ${off} but its buffer holds ${buf.length}`);
  }
}

/**
 * Checks sizes and that every element the call touches lies inside its buffer: an out-of-range
 * typed-array read gives `undefined` (NaN), which would silently poison the result. Plain calls
 * with no arrays, closures or strings unless it throws, so the check allocates nothing per call.
 * Shared by every gemm kernel (the wasm one included), so all give the same errors.
 *
 * @throws RangeError when a size or offset is not a non-negative integer or a matrix overruns its buffer.
 */
export function checkGemmArgs(m: number, n: number, k: number, a: FloatArray, aOff: number, b: FloatArray, bOff: number, c: FloatArray, cOff: number): void {
  checkCount("m", m);
  checkCount("n", n);
  checkCount("k", k);
  checkCount("aOff", aOff);
  checkCount("bOff", bOff);
  checkCount("cOff", cOff);
  checkFits("A", m, k, a, aOff);
  checkFits("B", k, n, b, bOff);
  checkFits("C", m, n, c, cOff);
}

/**
 * Reference matrix multiply: `C = op(A) @ op(B)`, op = transpose when its flag is set.
 *
 * A is stored row-major as [m,k] (as [k,m] when `transA`) starting at `aOff`; B as [k,n]
 * (as [n,k] when `transB`) at `bOff`; C is [m,n] row-major at `cOff` and is overwritten.
 * Each `C[i,j]` is accumulated in a JS double over `p = 0..k-1` in increasing order and stored
 * once — the determinism contract {@link gemm} matches bit for bit. Slow; for tests and checks.
 *
 * @throws RangeError when a size or offset is not a non-negative integer or a matrix overruns its buffer.
 */
export function gemmReference(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  aOff: number,
  transA: boolean,
  b: FloatArray,
  bOff: number,
  transB: boolean,
  c: FloatArray,
  cOff: number,
): void {
  checkGemmArgs(m, n, k, a, aOff, b, bOff, c, cOff);
  // Element strides of op(A) and op(B): transposition only swaps them.
  const aRow = transA ? 1 : k; // step of i in A[i,p]
  const aCol = transA ? m : 1; // step of p in A[i,p]
  const bRow = transB ? 1 : n; // step of p in B[p,j]
  const bCol = transB ? k : 1; // step of j in B[p,j]
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[aOff + i * aRow + p * aCol] * b[bOff + p * bRow + j * bCol];
      c[cOff + i * n + j] = acc;
    }
  }
}

/** Below this many multiply-adds the packed path's set-up costs more than it saves. */
const SMALL_MACS = 4096;

let rowAcc = new Float64Array(64);

/**
 * The direct path for thin and tiny products. Each C[i,j] still sums p = 0..k-1 in order (so
 * results equal gemmReference bit for bit); only the loop nesting follows the memory layout:
 * with B's rows contiguous, a row of C accumulates across them (p outer, j inner); otherwise
 * each C[i,j] is one strided dot product.
 */
function gemmDirect(m: number, n: number, k: number, a: FloatArray, aOff: number, transA: boolean, b: FloatArray, bOff: number, transB: boolean, c: FloatArray, cOff: number): void {
  const aRow = transA ? 1 : k;
  const aCol = transA ? m : 1;
  // A row of C accumulated across B's rows pays off only when the row is wide enough to
  // amortise its loop; for a few columns (a matrix-vector product) one dot product per C
  // element, walking B down its column, is several times faster.
  if (!transB && n >= 8) {
    if (rowAcc.length < n) rowAcc = new Float64Array(n);
    const acc = rowAcc;
    for (let i = 0; i < m; i++) {
      acc.fill(0, 0, n);
      let pa = aOff + i * aRow;
      for (let p = 0; p < k; p++) {
        const av = a[pa];
        const row = bOff + p * n;
        for (let j = 0; j < n; j++) acc[j] += av * b[row + j];
        pa += aCol;
      }
      const out = cOff + i * n;
      for (let j = 0; j < n; j++) c[out + j] = acc[j];
    }
    return;
  }
  const bRow = transB ? 1 : n; // step of p in B[p,j]
  const bCol = transB ? k : 1; // step of j in B[p,j]
  for (let i = 0; i < m; i++) {
    const ai = aOff + i * aRow;
    for (let j = 0; j < n; j++) {
      let acc = 0;
      let pa = ai;
      let pb = bOff + j * bCol;
      for (let p = 0; p < k; p++) {
        acc += a[pa] * b[pb];
        pa += aCol;
        pb += bRow;
      }
      c[cOff + i * n + j] = acc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Fast path.
//
// Structure (GotoBLAS-style, minus the k blocking that the determinism contract forbids):
//
//   for each block of NC columns of op(B):         pack it into packB as NR-wide panels
//     for each block of MC rows of op(A):          pack it into packA as MR-tall panels
//       for each NR panel of B, each MR panel of A: micro-kernel over the full k -> MR x NR of C
//
// Packed layouts: panel `t` of A holds, for p = 0..k-1, the MR values A[i0..i0+MR-1, p]
// contiguously (so op(A) transposed or not costs the same in the inner loop); panel `t` of B
// holds, for each p, the NR values B[p, j0..j0+NR-1]. Both panels are read strictly forward by
// the micro-kernel, which the hardware prefetcher streams well. Panels are always float64 so the
// micro-kernel is a single monomorphic function for both dtypes (f32 -> f64 is exact; packing
// costs O(mk + kn) against O(mnk) for the multiply, under 1% at the benchmark size).
//
// Tile: MR x NR = 4 x 8. V8 emits scalar SSE code, and every typed-array load carries an index
// add, an overflow check and a bounds check, so the inner loop is bound by instruction count,
// not by cache bandwidth. A 4x8 tile does 32 multiply-adds per 12 loads (a 4x4 tile: 16 per 8).
// Its 32 accumulators exceed the 16 XMM registers, but spills go to the load/store ports which
// are otherwise idle here. Measured on the dev box (one thread, whole 128x784 @ 784x256 f32 gemm;
// in parentheses the micro-kernel alone on L1-resident panels): 4x4 ~4.5 (5.2), 3x8 ~5.0 (5.4),
// 6x4 ~5.2 (5.5), 4x8 ~5.2 (5.8) GFLOP/s. Loading each B value just before its four
// multiply-adds, rather than all eight up front, shortens live ranges: 4x4 alone went 4.4 -> 5.2.
//
// Blocking: a B micro-panel is NR*k doubles (50 KiB at k = 784) and is reused across all A
// panels of the current row block; the A block (MC*k doubles, ~256 KiB) stays in L2 across all
// B panels of the column block; the B block (NC*k doubles, ~1 MiB) stays in L2/L3 across the
// row blocks. The budgets are sized for a 1-2 MiB L2 per core; with very long k the minimum
// block (one panel) simply spills to L3, which costs speed, not correctness.
// ---------------------------------------------------------------------------------------------

/** Rows of C per micro-tile. */
const MR = 4;
/** Columns of C per micro-tile. */
const NR = 8;
/** Target size in doubles of one packed row block of A (256 KiB). */
const A_BLOCK_DOUBLES = 32 * 1024;
/** Target size in doubles of one packed column block of B (1 MiB). */
const B_BLOCK_DOUBLES = 128 * 1024;

// Module-level scratch, grown on demand and never shrunk: no allocation per call in steady state.
// Safe because gemm is synchronous and never re-entered.
let packA = new Float64Array(0);
let packB = new Float64Array(0);
/** The micro-kernel's MR x NR result tile, row-major; scattered into C by the caller. */
const tile = new Float64Array(MR * NR);

/**
 * Block extent along a dimension of `size`, given `unit` (MR or NR) and a budget of `maxUnits`
 * units per block: as few blocks as the budget allows, balanced so the last one is not a sliver.
 */
function blockExtent(size: number, unit: number, maxUnits: number): number {
  const units = Math.ceil(size / unit);
  const blocks = Math.ceil(units / Math.max(1, maxUnits));
  return Math.ceil(units / blocks) * unit;
}

/**
 * Packs rows [i0, i0+rows) of op(A) into `dst` as MR-tall panels over the full k. Rows past the
 * end of a partial panel are zero-filled: they only feed accumulators that are never stored, and
 * zeros (unlike stale scratch, which could hold denormals) keep those lanes at full speed.
 */
function packRowsOfA(dst: Float64Array, a: FloatArray, aOff: number, transA: boolean, m: number, k: number, i0: number, rows: number): void {
  for (let t = 0; t * MR < rows; t++) {
    const r0 = i0 + t * MR;
    const h = Math.min(MR, i0 + rows - r0);
    const base = t * MR * k;
    if (transA) {
      // A stored [k,m]: for each p the MR values are contiguous.
      for (let p = 0; p < k; p++) {
        const src = aOff + p * m + r0;
        const q = base + p * MR;
        for (let r = 0; r < h; r++) dst[q + r] = a[src + r];
        for (let r = h; r < MR; r++) dst[q + r] = 0;
      }
    } else {
      // A stored [m,k]: read each row forward, write it with stride MR.
      for (let r = 0; r < h; r++) {
        const src = aOff + (r0 + r) * k;
        for (let p = 0, q = base + r; p < k; p++, q += MR) dst[q] = a[src + p];
      }
      for (let r = h; r < MR; r++) for (let p = 0, q = base + r; p < k; p++, q += MR) dst[q] = 0;
    }
  }
}

/** Packs columns [j0, j0+cols) of op(B) into `dst` as NR-wide panels over the full k (zero-padded, see packRowsOfA). */
function packColsOfB(dst: Float64Array, b: FloatArray, bOff: number, transB: boolean, n: number, k: number, j0: number, cols: number): void {
  for (let t = 0; t * NR < cols; t++) {
    const c0 = j0 + t * NR;
    const w = Math.min(NR, j0 + cols - c0);
    const base = t * NR * k;
    if (transB) {
      // B stored [n,k]: read each column of op(B) (a row of storage) forward, write with stride NR.
      for (let s = 0; s < w; s++) {
        const src = bOff + (c0 + s) * k;
        for (let p = 0, q = base + s; p < k; p++, q += NR) dst[q] = b[src + p];
      }
      for (let s = w; s < NR; s++) for (let p = 0, q = base + s; p < k; p++, q += NR) dst[q] = 0;
    } else {
      // B stored [k,n]: for each p the NR values are contiguous.
      for (let p = 0; p < k; p++) {
        const src = bOff + p * n + c0;
        const q = base + p * NR;
        for (let s = 0; s < w; s++) dst[q + s] = b[src + s];
        for (let s = w; s < NR; s++) dst[q + s] = 0;
      }
    }
  }
}

/**
 * The 4x8 micro-kernel: `tile[r*NR + s] = sum_p A[ao + p*MR + r] * B[bo + p*NR + s]` over the full
 * k, each sum a double accumulated in increasing p (the determinism contract). Written out by
 * hand so every accumulator is a local. Indices are kept int32 (`| 0`) so V8 can use plain
 * 32-bit adds without overflow checks; measured gain is small (within noise), it costs nothing.
 */
function kernel4x8(k: number, A: Float64Array, ao: number, B: Float64Array, bo: number, out: Float64Array): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c04 = 0, c05 = 0, c06 = 0, c07 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0, c14 = 0, c15 = 0, c16 = 0, c17 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c24 = 0, c25 = 0, c26 = 0, c27 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0, c34 = 0, c35 = 0, c36 = 0, c37 = 0;
  let pa = ao | 0;
  let pb = bo | 0;
  const end = (ao + k * MR) | 0;
  while (pa < end) {
    const a0 = A[pa], a1 = A[(pa + 1) | 0], a2 = A[(pa + 2) | 0], a3 = A[(pa + 3) | 0];
    let b = B[pb];
    c00 += a0 * b; c10 += a1 * b; c20 += a2 * b; c30 += a3 * b;
    b = B[(pb + 1) | 0];
    c01 += a0 * b; c11 += a1 * b; c21 += a2 * b; c31 += a3 * b;
    b = B[(pb + 2) | 0];
    c02 += a0 * b; c12 += a1 * b; c22 += a2 * b; c32 += a3 * b;
    b = B[(pb + 3) | 0];
    c03 += a0 * b; c13 += a1 * b; c23 += a2 * b; c33 += a3 * b;
    b = B[(pb + 4) | 0];
    c04 += a0 * b; c14 += a1 * b; c24 += a2 * b; c34 += a3 * b;
    b = B[(pb + 5) | 0];
    c05 += a0 * b; c15 += a1 * b; c25 += a2 * b; c35 += a3 * b;
    b = B[(pb + 6) | 0];
    c06 += a0 * b; c16 += a1 * b; c26 += a2 * b; c36 += a3 * b;
    b = B[(pb + 7) | 0];
    c07 += a0 * b; c17 += a1 * b; c27 += a2 * b; c37 += a3 * b;
    pa = (pa + MR) | 0;
    pb = (pb + NR) | 0;
  }
  out[0] = c00; out[1] = c01; out[2] = c02; out[3] = c03; out[4] = c04; out[5] = c05; out[6] = c06; out[7] = c07;
  out[8] = c10; out[9] = c11; out[10] = c12; out[11] = c13; out[12] = c14; out[13] = c15; out[14] = c16; out[15] = c17;
  out[16] = c20; out[17] = c21; out[18] = c22; out[19] = c23; out[20] = c24; out[21] = c25; out[22] = c26; out[23] = c27;
  out[24] = c30; out[25] = c31; out[26] = c32; out[27] = c33; out[28] = c34; out[29] = c35; out[30] = c36; out[31] = c37;
}

/**
 * Fast matrix multiply: `C = op(A) @ op(B)`, op = transpose when its flag is set.
 *
 * A is stored row-major as [m,k] (as [k,m] when `transA`) starting at `aOff`; B as [k,n]
 * (as [n,k] when `transB`) at `bOff`; C is [m,n] row-major at `cOff` and is overwritten
 * (with zeros when k = 0). A, B and C may be Float32Array or Float64Array in any mix; C must
 * not overlap A or B.
 *
 * Results are bitwise identical to {@link gemmReference}: each `C[i,j]` is accumulated in a JS
 * double over `p = 0..k-1` in increasing order and stored once. Speed comes from packing panels
 * of A and B into contiguous float64 scratch (transposed inputs cost the same), a 4x8
 * register-tiled micro-kernel, and cache blocking over m and n (never over k). Module-level
 * scratch buffers grow on demand, so steady-state calls allocate nothing. Single-threaded;
 * about 5 GFLOP/s for float32 128x784 @ 784x256 on the dev box, against ~1.4 for a naive loop.
 *
 * @throws RangeError when a size or offset is not a non-negative integer or a matrix overruns its buffer.
 */
export function gemm(
  m: number,
  n: number,
  k: number,
  a: FloatArray,
  aOff: number,
  transA: boolean,
  b: FloatArray,
  bOff: number,
  transB: boolean,
  c: FloatArray,
  cOff: number,
): void {
  checkGemmArgs(m, n, k, a, aOff, b, bOff, c, cOff);
  if (m === 0 || n === 0) return;
  if (k === 0) {
    c.fill(0, cOff, cOff + m * n);
    return;
  }
  // Thin or tiny products (a column vector, one row, a 64x1 linear layer) would waste most of
  // an MR x NR tile and pay packing for nothing: loop directly, in the same summation order.
  if (n < NR || m < MR || m * n * k <= SMALL_MACS) {
    gemmDirect(m, n, k, a, aOff, transA, b, bOff, transB, c, cOff);
    return;
  }
  const mc = blockExtent(m, MR, Math.floor(A_BLOCK_DOUBLES / (MR * k)));
  const nc = blockExtent(n, NR, Math.floor(B_BLOCK_DOUBLES / (NR * k)));
  if (packA.length < mc * k) packA = new Float64Array(mc * k);
  if (packB.length < nc * k) packB = new Float64Array(nc * k);
  const A = packA;
  const B = packB;
  const T = tile;
  for (let j0 = 0; j0 < n; j0 += nc) {
    const cols = Math.min(nc, n - j0);
    packColsOfB(B, b, bOff, transB, n, k, j0, cols);
    for (let i0 = 0; i0 < m; i0 += mc) {
      const rows = Math.min(mc, m - i0);
      packRowsOfA(A, a, aOff, transA, m, k, i0, rows);
      // B panel outer, A panel inner: the B micro-panel (NR*k doubles) stays hot in L1/L2
      // while the A panels of the block stream past it. (The other order measured the same
      // within noise; the kernel is instruction-bound, see above.)
      for (let jt = 0; jt * NR < cols; jt++) {
        const w = Math.min(NR, cols - jt * NR);
        const bo = jt * NR * k;
        for (let it = 0; it * MR < rows; it++) {
          const h = Math.min(MR, rows - it * MR);
          kernel4x8(k, A, it * MR * k, B, bo, T);
          // The single store of each C element (rounding to float32 for a Float32Array C).
          let dst = cOff + (i0 + it * MR) * n + j0 + jt * NR;
          for (let r = 0; r < h; r++, dst += n) {
            const src = r * NR;
            for (let s = 0; s < w; s++) c[dst + s] = T[src + s];
          }
        }
      }
    }
  }
}
