/**
 * Nearest-neighbour index for the semantic cache (issue 16): cosine similarity over
 * request embeddings, served by usearch's HNSW graph (https://github.com/unum-cloud/usearch).
 *
 * Why usearch: it ships a prebuilt N-API binary for linux-x64 inside its npm tarball
 * (prebuilds/linux-x64/usearch.node, found at run time by node-gyp-build), so `npm ci`
 * needs no compiler and no download; hnswlib-node and faiss-node compile (or fetch from
 * GitHub) on install, and hnswlib-wasm is a browser-first build with little use.
 * 2.26 or later: 2.25.3 hung in add() once removals had filled its capacity. 2.26 declares
 * engines node >= 22; its N-API binary loads and passes test/cache on Node 20 (npm warns).
 * bench/cache-index.ts measures it at 100,000 × 1,536.
 */
import usearch from 'usearch';

export interface VectorHit {
  id: string;
  /** Cosine similarity in [-1, 1], as the index computes it (bf16: about ±0.005 off the exact value). */
  similarity: number;
}

export interface VectorIndex {
  readonly dims: number;
  /** Live entries (a replaced id counts once). */
  readonly size: number;
  /** Stores a vector under id, replacing what id had. Throws on the wrong length or a zero / non-finite vector. */
  add(id: string, vector: Float32Array): void;
  /** True when id was there. Removed ids are never returned by search. */
  remove(id: string): boolean;
  /** Up to k hits, best first. Throws on the wrong length; a zero or non-finite query finds nothing. */
  search(vector: Float32Array, k: number): VectorHit[];
}

export interface VectorIndexOptions {
  /**
   * Candidates kept while walking the graph (HNSW's ef): higher finds the true nearest
   * more often and costs time. 64 kept recall@1 at 1.0 on the bench's data at under 1 ms.
   */
  expansionSearch?: number;
}

/**
 * Neighbours per node (HNSW's M) and candidates kept while inserting (efConstruction):
 * 16 and 64 are hnswlib's and usearch's usual defaults; larger ones made the bench's
 * 100,000-entry build several times slower for no recall it lacked.
 */
const CONNECTIVITY = 16;
const EXPANSION_ADD = 64;
const EXPANSION_SEARCH = 64;

/**
 * Stored as bf16: half of f32's memory (100,000 × 1,536 is 300 MiB, not 600) and, with
 * this binary's kernels, several times faster to insert and search than f32; its 8-bit
 * mantissa moves a cosine by well under 0.01, below any useful cache threshold's margin.
 */
const QUANTIZATION = usearch.ScalarKind.BF16;

/** One thread per call: the gateway calls in from its event loop, and a pool would fight it for the 2 cores. */
const THREADS = 1;

export function createVectorIndex(dims: number, opts: VectorIndexOptions = {}): VectorIndex {
  if (!Number.isInteger(dims) || dims < 1) throw new Error(`vector index: dims must be a positive integer, got ${dims}`);
  const index = new usearch.Index({
    dimensions: dims,
    metric: usearch.MetricKind.Cos,
    quantization: QUANTIZATION,
    connectivity: CONNECTIVITY,
    expansion_add: EXPANSION_ADD,
    expansion_search: opts.expansionSearch ?? EXPANSION_SEARCH,
    multi: false,
  });
  // usearch keys are u64: each add takes a fresh one, so a replaced id's old vector can
  // never answer for it (and a key is never reused while usearch may still hold it).
  const keyOf = new Map<string, bigint>();
  const idOf = new Map<bigint, string>();
  let nextKey = 0n;

  const checkDims = (vector: Float32Array, what: string): void => {
    if (vector.length !== dims) throw new Error(`vector index: ${what} has ${vector.length} dimensions, the index ${dims}`);
  };

  const drop = (id: string): boolean => {
    const key = keyOf.get(id);
    if (key === undefined) return false;
    index.remove(key);
    keyOf.delete(id);
    idOf.delete(key);
    return true;
  };

  return {
    dims,
    get size() {
      return keyOf.size;
    },
    add(id, vector) {
      checkDims(vector, `vector for ${JSON.stringify(id)}`);
      const unit = normalised(vector);
      if (unit === undefined) throw new Error(`vector index: vector for ${JSON.stringify(id)} is zero or not finite: cosine needs a direction`);
      drop(id);
      const key = nextKey++;
      index.add(key, unit, THREADS);
      keyOf.set(id, key);
      idOf.set(key, id);
    },
    remove: drop,
    search(vector, k) {
      checkDims(vector, 'query');
      const want = Math.min(Math.floor(k), keyOf.size);
      const unit = normalised(vector);
      if (!(want >= 1) || unit === undefined) return [];
      const found = index.search(unit, want, THREADS);
      const hits: VectorHit[] = [];
      found.keys.forEach((key, i) => {
        const id = idOf.get(key);
        // usearch's cosine distance is 1 − cos; clamp what bf16 rounding pushes past ±1.
        if (id !== undefined) hits.push({ id, similarity: Math.max(-1, Math.min(1, 1 - (found.distances[i] ?? 1))) });
      });
      return hits;
    },
  };
}

/** A unit-length copy, or undefined for a vector with no direction (all zeros, NaN, ±Infinity). */
export function normalised(vector: Float32Array): Float32Array | undefined {
  let sq = 0;
  for (const x of vector) sq += x * x;
  if (!(sq > 0) || !Number.isFinite(sq)) return undefined;
  const inv = 1 / Math.sqrt(sq);
  return vector.map((x) => x * inv);
}
