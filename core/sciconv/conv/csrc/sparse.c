/* Native kernels of sciconv.conv.sparse: submanifold rulebook build and the float32 gather-GEMM-scatter
 * (forward, input gradient, weight gradient) over a rulebook's (input row, output row) pairs.
 *
 * Rulebook layout: pairs of all kernel offsets concatenated in offset order, in_all[p], out_all[p] (int64),
 * offset k owning p in [starts[k], starts[k + 1]). Within one offset every output row and every input row
 * occurs at most once. The GEMM kernel takes each offset's pairs sorted by destination row and splits the
 * destination rows into chunks (one parallel region, no barrier per offset: a descheduled thread costs one
 * wait, not one per offset). Each row's sum runs over the offsets in the same order and each pair's dot
 * products in the same order whatever the thread count, so results do not depend on it.
 *
 * Submanifold rulebook: the sites are linearised in the grid padded by the kernel's reach (so a kernel
 * offset is one scalar key shift), put in a direct-address table (dense grids) or an open-addressing hash
 * table (sparse grids), and only the offsets before the centre are looked up: offset k and its mirror
 * K - 1 - k connect the same pairs with input and output swapped.
 *
 * Built with -fopenmp where available (the parallel regions then run on torch's OpenMP threads); without
 * it everything runs on the calling thread.
 */
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef int64_t i64;

int sparse_abi(void) { return 2; }

int sparse_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* ------------------------------------------------------------------------------------------ rulebook */

/* slot of a key: the 64-bit finaliser of MurmurHash3 (lattice keys cluster under a plain multiplication) */
static inline uint64_t hash_slot(i64 key, int bits) {
    uint64_t h = (uint64_t)key;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h >> (64 - bits);
}

static inline i64 hash_find(const i64 *keys, const int32_t *vals, int bits, i64 key) {
    uint64_t mask = (1ULL << bits) - 1;
    uint64_t h = hash_slot(key, bits);
    for (;;) {
        i64 k = keys[h];
        if (k == key) return vals[h];
        if (k < 0) return -1;
        h = (h + 1) & mask;
    }
}

/* coords (n, 4) int64 with element strides cs0, cs1; geo = {Dp, Hp, Wp, r0, r1, r2} (padded grid, reach);
 * delta (half,) key shift of the offsets before the centre; mode 0: direct table `work` (int32, volume
 * entries); mode 1: hash table of 2^bits slots in `work` (int64 keys then int32 values). Writes
 * nbr (K, n) int32 (input row at o + offset k, or -1; the centre row untouched) and counts (half,) of the
 * offsets before the centre (a mirror has its offset's count). */
void sparse_subm_lookup(const i64 *coords, i64 cs0, i64 cs1, i64 n, const i64 *geo, const i64 *delta, int half,
                        int mode, i64 volume, int bits, void *work, int32_t *nbr, i64 *counts, int nthreads) {
    const i64 dp = geo[0], hp = geo[1], wp = geo[2], r0 = geo[3], r1 = geo[4], r2 = geo[5];
    int32_t *table = (int32_t *)work;
    i64 *hkeys = (i64 *)work;
    int32_t *hvals = NULL;
    if (mode == 0) {
        memset(table, 0xff, (size_t)volume * sizeof(int32_t));
        for (i64 i = 0; i < n; i++) {
            const i64 *c = coords + i * cs0;
            i64 key = ((c[0] * dp + c[cs1] + r0) * hp + c[2 * cs1] + r1) * wp + c[3 * cs1] + r2;
            table[key] = (int32_t)i;
        }
    } else {
        i64 cap = (i64)1 << bits;
        hvals = (int32_t *)(hkeys + cap);
        memset(hkeys, 0xff, (size_t)cap * sizeof(i64));
        uint64_t mask = (uint64_t)cap - 1;
        for (i64 i = 0; i < n; i++) {
            const i64 *c = coords + i * cs0;
            i64 key = ((c[0] * dp + c[cs1] + r0) * hp + c[2 * cs1] + r1) * wp + c[3 * cs1] + r2;
            uint64_t h = hash_slot(key, bits);
            while (hkeys[h] >= 0) h = (h + 1) & mask;
            hkeys[h] = key;
            hvals[h] = (int32_t)i;
        }
    }
    /* rows after the centre are filled from their mirrors: nbr[K - 1 - k][i] = o where nbr[k][o] = i */
    memset(nbr + (i64)(half + 1) * n, 0xff, (size_t)(half * n) * sizeof(int32_t));
    const int num_k = 2 * half + 1;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
#pragma omp for schedule(static)
        for (i64 o = 0; o < n; o++) {
            const i64 *c = coords + o * cs0;
            i64 key = ((c[0] * dp + c[cs1] + r0) * hp + c[2 * cs1] + r1) * wp + c[3 * cs1] + r2;
            for (int k = 0; k < half; k++) {
                int32_t i = mode == 0 ? table[key + delta[k]] : (int32_t)hash_find(hkeys, hvals, bits, key + delta[k]);
                nbr[(i64)k * n + o] = i;
                if (i >= 0) nbr[(i64)(num_k - 1 - k) * n + i] = (int32_t)o;
            }
        }
#pragma omp for schedule(static)
        for (int k = 0; k < half; k++) {
            const int32_t *row = nbr + (i64)k * n;
            i64 count = 0;
            for (i64 o = 0; o < n; o++) count += row[o] >= 0;
            counts[k] = count;
        }
    }
}

/* Pairs of every offset but the centre at starts[k], sorted by output row. */
void sparse_subm_fill(const int32_t *nbr, i64 n, int num_k, const i64 *starts, i64 *in_all, i64 *out_all,
                      int nthreads) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (int k = 0; k < num_k; k++) {
        if (k == num_k / 2) continue;
        const int32_t *row = nbr + (i64)k * n;
        i64 s = starts[k];
        for (i64 o = 0; o < n; o++) {
            i64 i = row[o];
            if (i < 0) continue;
            in_all[s] = i;
            out_all[s] = o;
            s++;
        }
    }
}

/* ------------------------------------------------------------------------------------------ GEMM */

#define NB 16 /* output columns per register tile: two vectors of 8 floats */

/* GCC/Clang vector extension: 8 floats, unaligned loads and stores (AVX2 ymm; split or merged elsewhere) */
typedef float v8 __attribute__((vector_size(32), aligned(4)));

static inline v8 ld8(const float *p) { return *(const v8 *)p; }
static inline void st8(float *p, v8 v) { *(v8 *)p = v; }

/* dst[d_r] (= or +=) src[s_r] @ w for the r < cnt (<= 4) rows of one block; w (cs, cd) row-major. */
static inline void block_rows(const float *src, i64 cs, const float *w, i64 cd, float *dst, const i64 *s_rows,
                              const i64 *d_rows, int cnt, int assign) {
    const float *a[4];
    float *d[4];
    for (int r = 0; r < 4; r++) {
        int rr = r < cnt ? r : cnt - 1; /* short block: repeat the last row, stored once */
        a[r] = src + s_rows[rr] * cs;
        d[r] = dst + d_rows[rr] * cd;
    }
    i64 j0 = 0;
    for (; j0 + NB <= cd; j0 += NB) {
        v8 l0 = {0}, h0 = {0}, l1 = {0}, h1 = {0}, l2 = {0}, h2 = {0}, l3 = {0}, h3 = {0};
        for (i64 c = 0; c < cs; c++) {
            const float *wr = w + c * cd + j0;
            const v8 wl = ld8(wr), wh = ld8(wr + 8);
            const float x0 = a[0][c], x1 = a[1][c], x2 = a[2][c], x3 = a[3][c];
            l0 += x0 * wl;
            h0 += x0 * wh;
            l1 += x1 * wl;
            h1 += x1 * wh;
            l2 += x2 * wl;
            h2 += x2 * wh;
            l3 += x3 * wl;
            h3 += x3 * wh;
        }
        v8 ls[4] = {l0, l1, l2, l3}, hs[4] = {h0, h1, h2, h3};
        for (int r = 0; r < cnt; r++) {
            float *dr = d[r] + j0;
            if (assign) {
                st8(dr, ls[r]);
                st8(dr + 8, hs[r]);
            } else {
                st8(dr, ld8(dr) + ls[r]);
                st8(dr + 8, ld8(dr + 8) + hs[r]);
            }
        }
    }
    if (j0 < cd) {
        i64 nb = cd - j0;
        for (int r = 0; r < cnt; r++) {
            float acc[NB] = {0};
            for (i64 c = 0; c < cs; c++) {
                const float *wr = w + c * cd + j0;
                const float x0 = a[r][c];
                for (i64 j = 0; j < nb; j++) acc[j] += x0 * wr[j];
            }
            float *dr = d[r] + j0;
            if (assign)
                for (i64 j = 0; j < nb; j++) dr[j] = acc[j];
            else
                for (i64 j = 0; j < nb; j++) dr[j] += acc[j];
        }
    }
}

/* first p in [lo, hi) with idx[p] >= row (idx sorted on [lo, hi)) */
static inline i64 lower_bound(const i64 *idx, i64 lo, i64 hi, i64 row) {
    while (lo < hi) {
        i64 mid = lo + (hi - lo) / 2;
        if (idx[mid] < row)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* dst (n_dst, cd) = [identity: src @ w[identity] | zeros] + sum over offsets k != identity, in order, of
 * dst[d_idx[p]] += src[s_idx[p]] @ w[k] for p in [starts[k], starts[k + 1]), each offset's pairs sorted by
 * d_idx. w (K, cs, cd). Work is split into chunks of `chunk` destination rows handed out dynamically (one
 * parallel region, no barrier between offsets); a chunk's rows stay in cache across the offsets. */
void sparse_gemm_pairs(const float *src, i64 cs, const float *w, float *dst, i64 cd, i64 n_dst, const i64 *s_idx,
                       const i64 *d_idx, const i64 *starts, int num_k, int identity, i64 chunk, int nthreads) {
    i64 chunks = (n_dst + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (i64 ch = 0; ch < chunks; ch++) {
        i64 r0 = ch * chunk, r1 = r0 + chunk < n_dst ? r0 + chunk : n_dst;
        if (identity >= 0) {
            const float *wk = w + (i64)identity * cs * cd;
            for (i64 r = r0; r < r1; r += 4) {
                i64 rows[4];
                int cnt = (int)(r1 - r < 4 ? r1 - r : 4);
                for (int q = 0; q < 4; q++) rows[q] = r + (q < cnt ? q : cnt - 1);
                block_rows(src, cs, wk, cd, dst, rows, rows, cnt, 1);
            }
        } else {
            memset(dst + r0 * cd, 0, (size_t)((r1 - r0) * cd) * sizeof(float));
        }
        for (int k = 0; k < num_k; k++) {
            if (k == identity || starts[k + 1] == starts[k]) continue;
            const float *wk = w + (i64)k * cs * cd;
            i64 lo = lower_bound(d_idx, starts[k], starts[k + 1], r0);
            i64 hi = lower_bound(d_idx, lo, starts[k + 1], r1);
            for (i64 p = lo; p < hi; p += 4) {
                int cnt = (int)(hi - p < 4 ? hi - p : 4);
                block_rows(src, cs, wk, cd, dst, s_idx + p, d_idx + p, cnt, 0);
            }
        }
    }
}

#define PB 64 /* pairs per block of the weight gradient (their rows stay in L1 across the tiles) */

/* dw[k] (cin, cout) = sum over the pairs p of offset k of x[in[p]]^T g[out[p]] (in = out = p < n_id for the
 * identity offset). dw (K, cin, cout). One offset per task, its pairs summed in order. */
void sparse_weight_grad(const float *x, i64 cin, const float *g, i64 cout, const i64 *in_idx, const i64 *out_idx,
                        const i64 *starts, int num_k, int identity, i64 n_id, float *dw, int nthreads) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (int t = 0; t < num_k; t++) {
        /* the identity (usually the largest) first */
        int k = identity < 0 ? t : (t == 0 ? identity : (t <= identity ? t - 1 : t));
        float *acc = dw + (i64)k * cin * cout;
        memset(acc, 0, (size_t)(cin * cout) * sizeof(float));
        int is_id = k == identity;
        i64 lo = is_id ? 0 : starts[k];
        i64 np = is_id ? n_id : starts[k + 1] - lo;
        for (i64 p0 = 0; p0 < np; p0 += PB) {
            i64 pn = np - p0 < PB ? np - p0 : PB;
            const float *xr[PB];
            const float *gr[PB];
            for (i64 q = 0; q < pn; q++) {
                i64 p = lo + p0 + q;
                xr[q] = x + (is_id ? p : in_idx[p]) * cin;
                gr[q] = g + (is_id ? p : out_idx[p]) * cout;
            }
            i64 c = 0;
            for (; c + 4 <= cin; c += 4) {
                i64 j0 = 0;
                for (; j0 + NB <= cout; j0 += NB) {
                    float *t0 = acc + c * cout + j0;
                    v8 l0 = ld8(t0), h0 = ld8(t0 + 8), l1 = ld8(t0 + cout), h1 = ld8(t0 + cout + 8);
                    v8 l2 = ld8(t0 + 2 * cout), h2 = ld8(t0 + 2 * cout + 8);
                    v8 l3 = ld8(t0 + 3 * cout), h3 = ld8(t0 + 3 * cout + 8);
                    for (i64 q = 0; q < pn; q++) {
                        const float *gq = gr[q] + j0;
                        const v8 gl = ld8(gq), gh = ld8(gq + 8);
                        const float x0 = xr[q][c], x1 = xr[q][c + 1], x2 = xr[q][c + 2], x3 = xr[q][c + 3];
                        l0 += x0 * gl;
                        h0 += x0 * gh;
                        l1 += x1 * gl;
                        h1 += x1 * gh;
                        l2 += x2 * gl;
                        h2 += x2 * gh;
                        l3 += x3 * gl;
                        h3 += x3 * gh;
                    }
                    st8(t0, l0);
                    st8(t0 + 8, h0);
                    st8(t0 + cout, l1);
                    st8(t0 + cout + 8, h1);
                    st8(t0 + 2 * cout, l2);
                    st8(t0 + 2 * cout + 8, h2);
                    st8(t0 + 3 * cout, l3);
                    st8(t0 + 3 * cout + 8, h3);
                }
                for (; j0 < cout; j0++)
                    for (int r = 0; r < 4; r++) {
                        float s = acc[(c + r) * cout + j0];
                        for (i64 q = 0; q < pn; q++) s += xr[q][c + r] * gr[q][j0];
                        acc[(c + r) * cout + j0] = s;
                    }
            }
            for (; c < cin; c++) {
                float *t0 = acc + c * cout;
                for (i64 q = 0; q < pn; q++) {
                    const float x0 = xr[q][c];
                    const float *gq = gr[q];
                    for (i64 j = 0; j < cout; j++) t0[j] += x0 * gq[j];
                }
            }
        }
    }
}
