/* Native im2win convolution kernels (float32, groups = 1), loaded by sciconv/conv/im2win_native.py.
 *
 * Layouts (all row-major, C order):
 *   x     input                            (N, C, H, W)
 *   y     output                           (N, C_out, H_out, W_out)
 *   w_f   forward weight panels            (GF, kW * kH * C, 64)     a group of GF of the P = ceil(C_out / 64)
 *                                                                    panels, zero padded past C_out
 *   w_b   input-gradient weight panels     (GB, kH, kW, C_out, 64)   a group of GB of the Q = ceil(C / 64)
 *                                                                    panels, zero padded past C
 *   dy    output gradient                  (N, C_out, H_out, W_out)
 *   dy_t  output gradient, channels last   (N, H_out, W_out, C_out)
 *   dw_t  weight gradient accumulator      (kW * KPAD / 64, ceil(C_out / MR), MR, 64)  KPAD = ceil(kH*C/64)*64
 *                                          ("lines" split of the weight gradient only)
 *
 * The weights are packed one group of panels at a time (geometry g[20], g[21]: panels per group), groups
 * outermost: pack the group (all threads), then run every output row (forward) or input position (input
 * gradient) for the group's channels, so the packed weights in memory are one group, not the whole weight
 * (the window strips are rebuilt once per group). The weight gradient either sums each thread's share of
 * output rows into its own full accumulator dw_t ("lines", for small weights) or ("tiles") runs units of one
 * 64-row reduction panel x a block of g[22] output-channel tiles: the unit builds only its 64 columns of the
 * strips, sums over every output row into a small per-thread accumulator and writes the finished values
 * straight into dW's (C_out, C, kH, kW) layout.
 *
 * The window-order buffer is built per block of output rows ("lines", one per (n, h_out)) in a small
 * per-thread strip, never for the whole input, straight from the NCHW input (16 x 16 register transposes):
 *
 *   strip[l, j, kh, c] = x_pad[n, c, h_out * s_h + kh * d_h, j]     shape (lines, W_p, kH, C)
 *
 * with W_p = (W_out - 1) * s_w + (kW - 1) * d_w + 1 padded columns, so the receptive field of output
 * (h_out, w_out) for kernel column kw is the contiguous run strip[l, w_out * s_w + kw * d_w, :, :] of
 * K = kH * C values (and, for d_w = 1, the kW runs of one output are one contiguous run of kW * K).
 * A line whose strip would be too wide is cut into "pieces" of wb output columns (geometry g[19]; the
 * strip of a piece starts at padded column w0 * s_w); the work ranges below count pieces (= lines when
 * wb = W_out).
 *
 * Every product is one register-blocked micro-kernel: an MR x 64 tile (MR rows, 4 zmm of 16 columns) summed
 * over "segments", each a run of L reduction steps: row i of segment j reads a[j * MR + i][t] (a
 * broadcast scalar), and the 64 columns read b[j] + t * bstep (four vectors).
 *   forward:     rows = output positions, columns = output channels, segments = kernel columns
 *   grad weight: rows = output channels,  columns = (kw, kh, c),      segments = output rows (pieces)
 *   grad input:  rows = input positions,  columns = input channels,  segments = kernel taps (kh, kw)
 * Each range entry point takes a range of work so that a caller can split it over threads; the *_par
 * entry points split it themselves over OpenMP threads (see run_parallel).
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* SIMD: AVX-512 intrinsics where the compiler targets AVX-512F; elsewhere GCC/Clang vector extensions of
 * the same 16-float width (the compiler maps them onto AVX2/SSE/NEON registers). */
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vf;
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#else
typedef float vf __attribute__((vector_size(64)));
typedef float vf_u __attribute__((vector_size(64), aligned(4), may_alias));
#define VLOAD(p) ((vf)(*(const vf_u *)(p)))
#define VSTORE(p, v) (*(vf_u *)(p) = (v))
#define VSET1(x) ((vf){0} + (x))
#define VZERO() ((vf){0})
#define VFMA(a, b, c) ((a) * (b) + (c))
#endif

#define MR 6
#define NR 64
#define KC_BI 128 /* reduction chunk of the input gradient */

typedef long idx;

typedef struct {
    idx n, c, h, w, co, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo;
    idx lb_fwd, kc_fwd, lb_bw, rb_bi, wb, gf, gb, cbw, lb_bwt;
    idx k, wp, cop, cip, kp, kpad, ppl, wpp;
} geom;

static geom unpack(const idx *g) {
    geom q;
    q.n = g[0]; q.c = g[1]; q.h = g[2]; q.w = g[3]; q.co = g[4]; q.kh = g[5]; q.kw = g[6];
    q.sh = g[7]; q.sw = g[8]; q.ph = g[9]; q.pw = g[10]; q.dh = g[11]; q.dw = g[12];
    q.ho = g[13]; q.wo = g[14];
    q.lb_fwd = g[15]; q.kc_fwd = g[16]; q.lb_bw = g[17]; q.rb_bi = g[18]; q.wb = g[19];
    q.gf = g[20] > 0 ? g[20] : 1; q.gb = g[21] > 0 ? g[21] : 1; q.cbw = g[22] > 0 ? g[22] : 1;
    q.lb_bwt = g[23] > 0 ? g[23] : 1;
    q.k = q.kh * q.c;
    q.wp = (q.wo - 1) * q.sw + (q.kw - 1) * q.dw + 1;
    if (q.wb <= 0 || q.wb > q.wo) q.wb = q.wo;
    q.ppl = (q.wo + q.wb - 1) / q.wb;                     /* pieces per line */
    q.wpp = (q.wb - 1) * q.sw + (q.kw - 1) * q.dw + 1;    /* strip columns of one piece */
    q.cop = (q.co + NR - 1) / NR * NR;
    q.cip = (q.c + NR - 1) / NR * NR;
    q.kp = (q.k + NR - 1) / NR;
    q.kpad = q.kp * NR;
    return q;
}

static idx min_i(idx a, idx b) { return a < b ? a : b; }
static idx round_up(idx a, idx b) { return (a + b - 1) / b * b; }

static void *alloc64(size_t bytes) {
    void *p = aligned_alloc(64, round_up((idx)bytes, 64) + 64);
    return p;
}

/* ---------------------------------------------------------------------------------------------------- */
/* micro-kernel: c[MR, 64] (+)= sum_j sum_t a[j*MR+i][t] * b[j][t*bstep + col]                           */

#define FMA_ROW(i)                                \
    {                                             \
        vf s = VSET1(a##i[t]);                    \
        c##i##0 = VFMA(s, b0, c##i##0);           \
        c##i##1 = VFMA(s, b1, c##i##1);           \
        c##i##2 = VFMA(s, b2, c##i##2);           \
        c##i##3 = VFMA(s, b3, c##i##3);           \
    }

#define LOAD_ROW(i)                                               \
    vf c##i##0 = acc ? VLOAD(c + (i) * ldc) : VZERO();            \
    vf c##i##1 = acc ? VLOAD(c + (i) * ldc + 16) : VZERO();       \
    vf c##i##2 = acc ? VLOAD(c + (i) * ldc + 32) : VZERO();       \
    vf c##i##3 = acc ? VLOAD(c + (i) * ldc + 48) : VZERO();

#define STORE_ROW(i)                         \
    VSTORE(c + (i) * ldc, c##i##0);          \
    VSTORE(c + (i) * ldc + 16, c##i##1);     \
    VSTORE(c + (i) * ldc + 32, c##i##2);     \
    VSTORE(c + (i) * ldc + 48, c##i##3);

__attribute__((noinline)) static void ukr(idx nseg, idx len, const float *const *a, const float *const *b, idx bstep, float *c, idx ldc,
                int acc) {
    LOAD_ROW(0) LOAD_ROW(1) LOAD_ROW(2) LOAD_ROW(3) LOAD_ROW(4) LOAD_ROW(5)
    for (idx j = 0; j < nseg; j++) {
        const float *a0 = a[j * MR], *a1 = a[j * MR + 1], *a2 = a[j * MR + 2];
        const float *a3 = a[j * MR + 3], *a4 = a[j * MR + 4], *a5 = a[j * MR + 5];
        const float *bp = b[j];
        for (idx t = 0; t < len; t++) {
            vf b0 = VLOAD(bp), b1 = VLOAD(bp + 16), b2 = VLOAD(bp + 32), b3 = VLOAD(bp + 48);
            bp += bstep;
            FMA_ROW(0) FMA_ROW(1) FMA_ROW(2) FMA_ROW(3) FMA_ROW(4) FMA_ROW(5)
        }
    }
    STORE_ROW(0) STORE_ROW(1) STORE_ROW(2) STORE_ROW(3) STORE_ROW(4) STORE_ROW(5)
}

/* ---------------------------------------------------------------------------------------------------- */
/* window-order strip of one line, built from the NCHW input                                            */

/* dst[w * ds + c] = src[c * ss + w] for a 16 x nw block (c < 16, w < nw <= 16). */
#if defined(__AVX512F__)
static inline __attribute__((always_inline)) void transpose16(const float *src, idx ss, float *dst, idx ds,
                                                              idx nw) {
    __mmask16 m = (__mmask16)((1u << nw) - 1u); /* nw = 16: all lanes */
#define LD(i) _mm512_maskz_loadu_ps(m, src + (i) * ss)
    __m512 r0 = LD(0), r1 = LD(1), r2 = LD(2), r3 = LD(3), r4 = LD(4), r5 = LD(5), r6 = LD(6), r7 = LD(7);
    __m512 r8 = LD(8), r9 = LD(9), r10 = LD(10), r11 = LD(11), r12 = LD(12), r13 = LD(13), r14 = LD(14);
    __m512 r15 = LD(15);
#undef LD
    __m512 t0 = _mm512_unpacklo_ps(r0, r1), t1 = _mm512_unpackhi_ps(r0, r1);
    __m512 t2 = _mm512_unpacklo_ps(r2, r3), t3 = _mm512_unpackhi_ps(r2, r3);
    __m512 t4 = _mm512_unpacklo_ps(r4, r5), t5 = _mm512_unpackhi_ps(r4, r5);
    __m512 t6 = _mm512_unpacklo_ps(r6, r7), t7 = _mm512_unpackhi_ps(r6, r7);
    __m512 t8 = _mm512_unpacklo_ps(r8, r9), t9 = _mm512_unpackhi_ps(r8, r9);
    __m512 t10 = _mm512_unpacklo_ps(r10, r11), t11 = _mm512_unpackhi_ps(r10, r11);
    __m512 t12 = _mm512_unpacklo_ps(r12, r13), t13 = _mm512_unpackhi_ps(r12, r13);
    __m512 t14 = _mm512_unpacklo_ps(r14, r15), t15 = _mm512_unpackhi_ps(r14, r15);
#define UPD(a, b, lo) _mm512_castpd_ps(lo ? _mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)) \
                                          : _mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)))
    r0 = UPD(t0, t2, 1); r1 = UPD(t0, t2, 0); r2 = UPD(t1, t3, 1); r3 = UPD(t1, t3, 0);
    r4 = UPD(t4, t6, 1); r5 = UPD(t4, t6, 0); r6 = UPD(t5, t7, 1); r7 = UPD(t5, t7, 0);
    r8 = UPD(t8, t10, 1); r9 = UPD(t8, t10, 0); r10 = UPD(t9, t11, 1); r11 = UPD(t9, t11, 0);
    r12 = UPD(t12, t14, 1); r13 = UPD(t12, t14, 0); r14 = UPD(t13, t15, 1); r15 = UPD(t13, t15, 0);
#undef UPD
    t0 = _mm512_shuffle_f32x4(r0, r4, 0x88); t1 = _mm512_shuffle_f32x4(r1, r5, 0x88);
    t2 = _mm512_shuffle_f32x4(r2, r6, 0x88); t3 = _mm512_shuffle_f32x4(r3, r7, 0x88);
    t4 = _mm512_shuffle_f32x4(r0, r4, 0xdd); t5 = _mm512_shuffle_f32x4(r1, r5, 0xdd);
    t6 = _mm512_shuffle_f32x4(r2, r6, 0xdd); t7 = _mm512_shuffle_f32x4(r3, r7, 0xdd);
    t8 = _mm512_shuffle_f32x4(r8, r12, 0x88); t9 = _mm512_shuffle_f32x4(r9, r13, 0x88);
    t10 = _mm512_shuffle_f32x4(r10, r14, 0x88); t11 = _mm512_shuffle_f32x4(r11, r15, 0x88);
    t12 = _mm512_shuffle_f32x4(r8, r12, 0xdd); t13 = _mm512_shuffle_f32x4(r9, r13, 0xdd);
    t14 = _mm512_shuffle_f32x4(r10, r14, 0xdd); t15 = _mm512_shuffle_f32x4(r11, r15, 0xdd);
    __m512 out[16] = {
        _mm512_shuffle_f32x4(t0, t8, 0x88), _mm512_shuffle_f32x4(t1, t9, 0x88),
        _mm512_shuffle_f32x4(t2, t10, 0x88), _mm512_shuffle_f32x4(t3, t11, 0x88),
        _mm512_shuffle_f32x4(t4, t12, 0x88), _mm512_shuffle_f32x4(t5, t13, 0x88),
        _mm512_shuffle_f32x4(t6, t14, 0x88), _mm512_shuffle_f32x4(t7, t15, 0x88),
        _mm512_shuffle_f32x4(t0, t8, 0xdd), _mm512_shuffle_f32x4(t1, t9, 0xdd),
        _mm512_shuffle_f32x4(t2, t10, 0xdd), _mm512_shuffle_f32x4(t3, t11, 0xdd),
        _mm512_shuffle_f32x4(t4, t12, 0xdd), _mm512_shuffle_f32x4(t5, t13, 0xdd),
        _mm512_shuffle_f32x4(t6, t14, 0xdd), _mm512_shuffle_f32x4(t7, t15, 0xdd)};
    for (idx w = 0; w < nw; w++) _mm512_storeu_ps(dst + w * ds, out[w]);
}
#else
static inline __attribute__((always_inline)) void transpose16(const float *src, idx ss, float *dst, idx ds,
                                                              idx nw) {
    for (idx w = 0; w < nw; w++)
        for (idx c = 0; c < 16; c++) dst[w * ds + c] = src[c * ss + w];
}
#endif

/* dst[w * ds + c] = src[c * ss + w] for c < nc, w < nw. */
static void transpose(const float *src, idx ss, idx nc, idx nw, float *dst, idx ds) {
    idx c0 = 0;
    for (; c0 + 16 <= nc; c0 += 16) {
        idx w0 = 0;
        for (; w0 + 16 <= nw; w0 += 16) transpose16(src + c0 * ss + w0, ss, dst + w0 * ds + c0, ds, 16);
        if (w0 < nw) transpose16(src + c0 * ss + w0, ss, dst + w0 * ds + c0, ds, nw - w0);
    }
    for (idx w = 0; w < nw; w++)
        for (idx c = c0; c < nc; c++) dst[w * ds + c] = src[c * ss + w];
}

/* Columns [k0, k0 + nk) of the strip of one piece (output columns [w0, w0 + wb) of the line (n, h_out),
 * piece = line * ppl + w0 / wb), with row stride ld: dst[j * ld + k - k0] = strip[j, k], k = kh * C + c,
 * strip[j, kh, c] = x_pad[n, c, h_out * s_h + kh * d_h, w0 * s_w + j], x in NCHW. */
static void build_cols(const geom *q, const float *x, idx piece, idx k0, idx nk, float *dst, idx ld) {
    idx line = piece / q->ppl, n = line / q->ho, oh = line % q->ho, off = (piece % q->ppl) * q->wb * q->sw;
    /* strip columns [lo, hi) hold real input columns lo + off - pw, .. */
    idx lo = q->pw - off > 0 ? q->pw - off : 0, hi = min_i(q->wpp, q->pw + q->w - off);
    for (idx k = k0; k < k0 + nk;) {
        idx kh = k / q->c, c = k % q->c, nc = min_i(q->c - c, k0 + nk - k);
        idx h = oh * q->sh + kh * q->dh - q->ph;
        float *d = dst + (k - k0);
        size_t bytes = (size_t)nc * sizeof(float);
        if (h < 0 || h >= q->h || hi <= lo) {
            for (idx j = 0; j < q->wpp; j++) memset(d + j * ld, 0, bytes);
        } else {
            for (idx j = 0; j < lo; j++) memset(d + j * ld, 0, bytes);
            for (idx j = hi; j < q->wpp; j++) memset(d + j * ld, 0, bytes);
            transpose(x + ((n * q->c + c) * q->h + h) * q->w + lo + off - q->pw, q->h * q->w, nc, hi - lo,
                      d + lo * ld, ld);
        }
        k += nc;
    }
}

/* The whole strip of one piece: strip[j, kh, c] (row of K = kH * C values per column j). */
static void build_piece(const geom *q, const float *x, idx piece, float *dst) {
    build_cols(q, x, piece, 0, q->k, dst, q->k);
}

/* output columns of a piece: first one and count */
static idx piece_w0(const geom *q, idx piece) { return (piece % q->ppl) * q->wb; }
static idx piece_len(const geom *q, idx piece) { return min_i(q->wb, q->wo - piece_w0(q, piece)); }

/* ---------------------------------------------------------------------------------------------------- */

int im2win_abi(void) { return 2; }

/* Whether the library was built with OpenMP (the *_par entry points then run on the process's OpenMP
 * runtime, which inside torch is torch's own libgomp, so its threads are shared, not oversubscribed). */
int im2win_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Run fn(ctx, lo, hi, worker) over the chunks [lo, hi) of [0, total) (grain long) on nt threads; chunks
 * are handed out in order through an atomic counter (threads slowed by other processes balance out). */
typedef void (*chunk_fn)(const void *ctx, idx lo, idx hi, int worker);

static void run_parallel(int nt, idx total, idx grain, chunk_fn fn, const void *ctx) {
    idx nchunks = grain > 0 ? (total + grain - 1) / grain : 0;
    if (nt > nchunks) nt = (int)nchunks;
    if (nt <= 1) {
        for (idx c = 0; c < nchunks; c++) fn(ctx, c * grain, min_i(total, (c + 1) * grain), 0);
        return;
    }
    idx next = 0;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
#ifdef _OPENMP
        int me = omp_get_thread_num();
#else
        int me = 0;
#endif
        for (;;) {
            idx c = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
            if (c >= nchunks) break;
            fn(ctx, c * grain, min_i(total, (c + 1) * grain), me);
        }
    }
}

/* Weight gradient in torch's layout for output channels [o0, o1): dw[o, c, kh, kw] = sum over the
 * accumulators parts[0 .. nparts) of dw_t[(kw * KP + k / 64), o / MR, o % MR, k % 64] with k = kh * C + c. */
void im2win_dw_finish(const idx *g, const float *const *parts, idx nparts, float *dw, idx o0, idx o1) {
    geom q = unpack(g);
    idx co_tiles = (q.co + MR - 1) / MR, taps = q.kh * q.kw;
    float v[NR];
    for (idx o = o0; o < o1; o++) {
        float *d = dw + o * q.c * taps;
        for (idx kw = 0; kw < q.kw; kw++)
            for (idx kp = 0; kp < q.kp; kp++) {
                idx off = (((kw * q.kp + kp) * co_tiles + o / MR) * MR + o % MR) * NR;
                for (idx j = 0; j < NR; j++) v[j] = parts[0][off + j];
                for (idx p = 1; p < nparts; p++)
                    for (idx j = 0; j < NR; j++) v[j] += parts[p][off + j];
                idx k0 = kp * NR, kh = k0 / q.c, c = k0 % q.c, n = min_i(NR, q.k - k0);
                for (idx j = 0; j < n; j++) {
                    d[(c * q.kh + kh) * q.kw + kw] = v[j];
                    if (++c == q.c) {
                        c = 0;
                        kh++;
                    }
                }
            }
    }
}

/* Channels last for samples [n0, n1): dst[n, pos, c] = src[n, c, pos] (pos < hw). */
void im2win_to_nhwc(const float *src, float *dst, idx c, idx hw, idx n0, idx n1) {
    for (idx n = n0; n < n1; n++) transpose(src + n * c * hw, hw, c, hw, dst + n * hw * c, c);
}

#define PACK_CB 32 /* input channels per unit of forward packing work */

/* Units of forward packing work for a group of np panels: (panel, block of PACK_CB input channels). */
static idx pack_fwd_units(const geom *q, idx np) { return np * ((q->c + PACK_CB - 1) / PACK_CB); }

/* Forward weight panels of the group starting at panel pb, units [u0, u1) (u = (p - pb) * blocks + block of
 * PACK_CB input channels): w (C_out, C, kH, kW) -> w_f[p - pb, (kw * kH + kh) * C + c, j] =
 * w[p * 64 + j, c, kh, kw] (zero for p * 64 + j >= C_out). */
void im2win_pack_fwd(const idx *g, const float *w, float *w_f, idx pb, idx u0, idx u1) {
    geom q = unpack(g);
    idx taps = q.kh * q.kw, rows = q.kw * q.k, blocks = (q.c + PACK_CB - 1) / PACK_CB;
    float *tmp = alloc64((size_t)PACK_CB * taps * NR * sizeof(float));
    for (idx u = u0; u < u1; u++) {
        idx p = pb + u / blocks, c0 = (u % blocks) * PACK_CB, nc = min_i(PACK_CB, q.c - c0);
        float *dst = w_f + (u / blocks) * rows * NR;
        idx cols = min_i(NR, q.co - p * NR);
        if (cols < NR) memset(tmp, 0, (size_t)PACK_CB * taps * NR * sizeof(float));
        /* tmp[(c - c0) * taps + tap, j] = w[p * 64 + j, c, tap] */
        transpose(w + (p * NR * q.c + c0) * taps, q.c * taps, cols, nc * taps, tmp, NR);
        for (idx c = 0; c < nc; c++)
            for (idx kh = 0; kh < q.kh; kh++)
                for (idx kw = 0; kw < q.kw; kw++)
                    memcpy(dst + ((kw * q.kh + kh) * q.c + c0 + c) * NR, tmp + (c * taps + kh * q.kw + kw) * NR,
                           NR * sizeof(float));
    }
    free(tmp);
}

/* Input-gradient weight panels [p0, p1) (a group), for output channels [o0, o1): w (C_out, C, kH, kW) ->
 * w_b[p - p0, kh, kw, o, j] = w[o, p * 64 + j, kh, kw] (zero for p * 64 + j >= C). */
void im2win_pack_bwd(const idx *g, const float *w, float *w_b, idx p0, idx p1, idx o0, idx o1) {
    geom q = unpack(g);
    idx taps = q.kh * q.kw;
    for (idx o = o0; o < o1; o++) {
        const float *src = w + o * q.c * taps;
        for (idx p = p0; p < p1; p++) {
            idx cols = min_i(NR, q.c - p * NR);
            for (idx tap = 0; tap < taps; tap++) {
                float *d = w_b + (((p - p0) * taps + tap) * q.co + o) * NR;
                idx j = 0;
                for (; j < cols; j++) d[j] = src[(p * NR + j) * taps + tap];
                for (; j < NR; j++) d[j] = 0.0f;
            }
        }
    }
}

/* Bytes of scratch one call allocates (op 0: forward, 1: weight gradient by lines, 2: input gradient,
 * 3: weight gradient by tiles, its accumulator included). */
idx im2win_scratch_bytes(const idx *g, int op) {
    geom q = unpack(g);
    if (op == 0) {
        idx rows = round_up(q.lb_fwd * q.wb, MR);
        return (q.lb_fwd * q.wpp * q.k + NR) * 4 + rows * q.gf * NR * 4 + rows * 8 + 64 * 3;
    }
    if (op == 1) return (q.lb_bw * q.wpp * q.k + NR) * 4 + q.lb_bw * MR * 8 + q.lb_bw * 8 + 64 * 2;
    if (op == 3)
        return (q.lb_bwt * q.wpp * NR + NR) * 4 + q.cbw * q.kw * MR * NR * 4 + q.lb_bwt * MR * 8 + q.lb_bwt * 8 +
               64 * 4;
    idx rows = round_up(q.rb_bi, MR);
    return rows * q.gb * NR * 4 + rows * q.kh * q.kw * 8 + (rows / MR) * q.kh * q.kw + q.kh * q.kw * (MR + 1) * 8 +
           q.co * 4 + 64 * 5;
}

/* Forward for pieces [l0, l1) (piece = (n * H_out + h_out) * ppl + w_out / wb; a whole line when
 * wb = W_out) and the output channels of the panels [p0, p1), whose packed weights w_f holds:
 * y = conv(x) + bias. */
void im2win_fwd(const idx *g, const float *x, const float *w_f, const float *bias, float *y, idx p0, idx p1,
                idx l0, idx l1) {
    geom q = unpack(g);
    idx np = p1 - p0, ldo = np * NR, o0 = p0 * NR, nco = min_i(q.co, p1 * NR) - o0;
    idx lb = q.lb_fwd, rows_max = round_up(lb * q.wb, MR), strip_piece = q.wpp * q.k;
    float *strip = alloc64((size_t)(lb * strip_piece + NR) * 4);
    float *obuf = alloc64((size_t)rows_max * ldo * 4);
    const float **ap = alloc64((size_t)rows_max * sizeof(float *));
    idx nseg = q.dw == 1 ? 1 : q.kw, lseg = q.dw == 1 ? q.kw * q.k : q.k;
    idx kc = q.kc_fwd > 0 ? q.kc_fwd : lseg;
    kc = (lseg + (lseg + kc - 1) / kc - 1) / ((lseg + kc - 1) / kc); /* equal chunks of at most kc */
    idx panel = q.kw * q.k * NR;
    for (idx b0 = l0; b0 < l1; b0 += lb) {
        idx nl = min_i(lb, l1 - b0), rows = 0;
        for (idx l = 0; l < nl; l++) {
            build_piece(&q, x, b0 + l, strip + l * strip_piece);
            for (idx i = 0, len = piece_len(&q, b0 + l); i < len; i++)
                ap[rows++] = strip + l * strip_piece + i * q.sw * q.k;
        }
        idx tiles = (rows + MR - 1) / MR;
        for (idx r = rows; r < tiles * MR; r++) ap[r] = ap[rows - 1];
        for (idx p = 0; p < np; p++) {
            for (idx s = 0; s < nseg; s++) {
                for (idx k0 = 0; k0 < lseg; k0 += kc) {
                    idx len = min_i(kc, lseg - k0);
                    int acc = !(s == 0 && k0 == 0);
                    const float *bp = w_f + p * panel + (s * lseg + k0) * NR;
                    idx aoff = s * q.dw * q.k + k0;
                    for (idx t = 0; t < tiles; t++) {
                        const float *a[MR];
                        for (int i = 0; i < MR; i++) a[i] = ap[t * MR + i] + aoff;
                        ukr(1, len, a, &bp, NR, obuf + t * MR * ldo + p * NR, ldo, acc);
                    }
                }
            }
        }
        if (bias)
            for (idx r = 0; r < rows; r++)
                for (idx o = 0; o < nco; o++) obuf[r * ldo + o] += bias[o0 + o];
        /* one transposed copy per run of consecutive output positions of one sample (whole lines of one
         * sample are consecutive (h_out, w_out) positions; a piece of a line is a run of its own) */
        for (idx l = 0, r = 0; l < nl;) {
            idx piece = b0 + l, line = piece / q.ppl, n = line / q.ho, oh = line % q.ho;
            idx run = q.ppl == 1 ? min_i(nl - l, q.ho - oh) : 1, len = q.ppl == 1 ? run * q.wo : piece_len(&q, piece);
            transpose(obuf + r * ldo, ldo, len, nco, y + ((n * q.co + o0) * q.ho + oh) * q.wo + piece_w0(&q, piece),
                      q.ho * q.wo);
            l += run;
            r += len;
        }
    }
    free(strip);
    free(obuf);
    free(ap);
}

typedef struct {
    const idx *g;
    const float *x, *w, *bias;
    float *w_f, *y;
    idx p0, p1;
} fwd_ctx;

static void fwd_chunk(const void *c, idx lo, idx hi, int worker) {
    const fwd_ctx *f = c;
    (void)worker;
    im2win_fwd(f->g, f->x, f->w_f, f->bias, f->y, f->p0, f->p1, lo, hi);
}

static void pack_fwd_chunk(const void *c, idx lo, idx hi, int worker) {
    const fwd_ctx *f = c;
    (void)worker;
    im2win_pack_fwd(f->g, f->w, f->w_f, f->p0, lo, hi);
}

/* The whole forward on `threads` threads, one group of GF output-channel panels at a time: pack the group's
 * panels of w (C_out, C, kH, kW) into w_f (GF panels), then y = conv(x) + bias for the group's channels. */
void im2win_fwd_par(const idx *g, const float *x, const float *w, float *w_f, const float *bias, float *y,
                    int threads, idx grain) {
    geom q = unpack(g);
    idx panels = q.cop / NR;
    for (idx p0 = 0; p0 < panels; p0 += q.gf) {
        idx p1 = min_i(panels, p0 + q.gf), units = pack_fwd_units(&q, p1 - p0);
        fwd_ctx f = {g, x, w, bias, w_f, y, p0, p1};
        run_parallel(threads, units, (units + 2 * threads - 1) / (2 * threads), pack_fwd_chunk, &f);
        run_parallel(threads, q.n * q.ho * q.ppl, grain, fwd_chunk, &f);
    }
}

/* Weight gradient (tiles zeroed first if `zero`): dw_t[co, kw, k] += sum over the pieces [l0, l1) and their
 * output columns of strip * dy, for the tiles
 * [t0, t1) of the (kW * KP panels x ceil(C_out / MR)) tile grid; tile t = panel * co_tiles + co_tile holds
 * the MR x 64 block dw_t[t, i, j] = dW[co_tile * MR + i, kw, k0 + j] (panel = kw * KP + k0 / 64), tiles
 * contiguous so that the accumulators stream through the caches in order. */
void im2win_bwd_weight(const idx *g, const float *x, const float *dy, float *dw_t, idx l0, idx l1, idx t0,
                       idx t1, int zero) {
    geom q = unpack(g);
    if (zero && l1 <= l0) memset(dw_t + t0 * MR * NR, 0, (size_t)(t1 - t0) * MR * NR * sizeof(float));
    idx lb = q.lb_bw, strip_piece = q.wpp * q.k;
    float *strip = alloc64((size_t)(lb * strip_piece + NR) * 4);
    const float **a = alloc64((size_t)lb * MR * sizeof(float *));
    const float **b = alloc64((size_t)lb * sizeof(float *));
    idx co_tiles = (q.co + MR - 1) / MR;
    for (idx b0 = l0; b0 < l1; b0 += lb) {
        idx nl = min_i(lb, l1 - b0);
        for (idx l = 0; l < nl; l++) build_piece(&q, x, b0 + l, strip + l * strip_piece);
        /* panel-major: the strip panel (nl * wb rows of 64) stays in L1 across the output-channel tiles */
        for (idx t = t0; t < t1; t++) {
            idx rp = t / co_tiles, ct = t % co_tiles, kw = rp / q.kp, k0 = (rp % q.kp) * NR;
            for (idx j = 0; j < nl; j++) {
                idx piece = b0 + j, line = piece / q.ppl, n = line / q.ho, oh = line % q.ho;
                for (int i = 0; i < MR; i++) {
                    idx o = min_i(ct * MR + i, q.co - 1);
                    a[j * MR + i] = dy + ((n * q.co + o) * q.ho + oh) * q.wo + piece_w0(&q, piece);
                }
                b[j] = strip + j * strip_piece + kw * q.dw * q.k + k0;
            }
            float *acc = dw_t + t * MR * NR;
            if (t + 1 < t1)
                for (int i = 0; i < MR * NR; i += 16) __builtin_prefetch(acc + MR * NR + i, 1, 3);
            int keep = !(zero && b0 == l0); /* the first block of a zeroed range starts from 0 */
            if (q.ppl == 1) {
                ukr(nl, q.wo, a, b, q.sw * q.k, acc, NR, keep);
            } else { /* pieces of different lengths: one call each */
                for (idx j = 0; j < nl; j++)
                    ukr(1, piece_len(&q, b0 + j), a + j * MR, b + j, q.sw * q.k, acc, NR, keep || j > 0);
            }
        }
    }
    free(strip);
    free(a);
    free(b);
}

/* Units of the weight gradient by tiles: (64-row reduction panel, block of cbw output-channel tiles). */
static idx dw_units(const geom *q) {
    idx co_tiles = (q->co + MR - 1) / MR;
    return q->kp * ((co_tiles + q->cbw - 1) / q->cbw);
}

/* Weight gradient straight into dw (C_out, C, kH, kW) for the units [u0, u1): unit u = kp * blocks + b covers
 * the reduction indices k in [kp * 64, kp * 64 + 64) (k = kh * C + c) for every kernel column and the output
 * channels of the tiles [b * cbw, (b + 1) * cbw). Each unit builds only those 64 columns of the strips and
 * sums over every piece, in blocks of lb_bwt pieces taken in order (so the result does not depend on how
 * the units are split over threads), into a (kW, cbw, MR, 64) accumulator, then writes the finished values. */
void im2win_bwd_weight_units(const idx *g, const float *x, const float *dy, float *dw, idx u0, idx u1) {
    geom q = unpack(g);
    idx co_tiles = (q.co + MR - 1) / MR, blocks = (co_tiles + q.cbw - 1) / q.cbw, lb = q.lb_bwt;
    idx lines = q.n * q.ho * q.ppl, sp = q.wpp * NR;
    size_t strip_bytes = (size_t)(lb * sp + NR) * 4;
    float *strip = alloc64(strip_bytes);
    float *acc = alloc64((size_t)q.cbw * q.kw * MR * NR * 4);
    const float **a = alloc64((size_t)lb * MR * sizeof(float *));
    const float **b = alloc64((size_t)lb * sizeof(float *));
    memset(strip, 0, strip_bytes); /* columns past K stay zero */
    for (idx u = u0; u < u1; u++) {
        idx k0 = (u / blocks) * NR, nk = min_i(NR, q.k - k0);
        idx t0 = (u % blocks) * q.cbw, t1 = min_i(co_tiles, t0 + q.cbw), nt = t1 - t0;
        if (lines <= 0) memset(acc, 0, (size_t)q.kw * nt * MR * NR * 4);
        for (idx b0 = 0; b0 < lines; b0 += lb) {
            idx nl = min_i(lb, lines - b0);
            for (idx l = 0; l < nl; l++) build_cols(&q, x, b0 + l, k0, nk, strip + l * sp, NR);
            int keep = b0 > 0;
            for (idx ct = t0; ct < t1; ct++) {
                for (idx j = 0; j < nl; j++) {
                    idx piece = b0 + j, line = piece / q.ppl, n = line / q.ho, oh = line % q.ho;
                    for (int i = 0; i < MR; i++) {
                        idx o = min_i(ct * MR + i, q.co - 1);
                        a[j * MR + i] = dy + ((n * q.co + o) * q.ho + oh) * q.wo + piece_w0(&q, piece);
                    }
                }
                for (idx kw = 0; kw < q.kw; kw++) {
                    for (idx j = 0; j < nl; j++) b[j] = strip + j * sp + kw * q.dw * NR;
                    float *c = acc + (kw * nt + ct - t0) * MR * NR;
                    if (q.ppl == 1) {
                        ukr(nl, q.wo, a, b, q.sw * NR, c, NR, keep);
                    } else { /* pieces of different lengths: one call each */
                        for (idx j = 0; j < nl; j++)
                            ukr(1, piece_len(&q, b0 + j), a + j * MR, b + j, q.sw * NR, c, NR, keep || j > 0);
                    }
                }
            }
        }
        for (idx kw = 0; kw < q.kw; kw++)
            for (idx ct = t0; ct < t1; ct++)
                for (idx i = 0; i < MR && ct * MR + i < q.co; i++) {
                    const float *src = acc + ((kw * nt + ct - t0) * MR + i) * NR;
                    float *d = dw + (ct * MR + i) * q.c * q.kh * q.kw + kw;
                    idx kh = k0 / q.c, c = k0 % q.c;
                    for (idx j = 0; j < nk; j++) {
                        d[(c * q.kh + kh) * q.kw] = src[j];
                        if (++c == q.c) {
                            c = 0;
                            kh++;
                        }
                    }
                }
    }
    free(strip);
    free(acc);
    free(a);
    free(b);
}

/* Input gradient for rows [r0, r1) of the enumeration of input positions by residue class: class
 * (rh, rw) (rh < s_h, rw < s_w, in that order) holds the positions (n, h, w) with h % s_h == rh and
 * w % s_w == rw, in (n, h, w) order, and the input channels of the panels [p0, p1), whose packed weights w_b
 * holds. Every position of dx is written exactly once per group of panels. */
void im2win_bwd_input(const idx *g, const float *dy_t, const float *w_b, float *dx, idx p0, idx p1, idx r0,
                      idx r1) {
    geom q = unpack(g);
    idx rb = round_up(q.rb_bi, MR), taps = q.kh * q.kw, tiles_max = rb / MR;
    idx np = p1 - p0, ldx = np * NR, c0 = p0 * NR, nc = min_i(q.c, p1 * NR) - c0;
    float *xbuf = alloc64((size_t)rb * ldx * 4);
    const float **a = alloc64((size_t)rb * taps * sizeof(float *));
    char *active = alloc64((size_t)tiles_max * taps);
    const float **aseg = alloc64((size_t)taps * MR * sizeof(float *));
    float *zero = alloc64((size_t)q.co * 4);
    const float **b = alloc64((size_t)taps * sizeof(float *));
    memset(zero, 0, (size_t)q.co * 4);
    idx start = 0;
    for (idx rh = 0; rh < q.sh; rh++) {
        for (idx rw = 0; rw < q.sw; rw++) {
            idx nh = rh < q.h ? (q.h - rh + q.sh - 1) / q.sh : 0;
            idx nw = rw < q.w ? (q.w - rw + q.sw - 1) / q.sw : 0;
            idx size = q.n * nh * nw, lo = r0 > start ? r0 - start : 0, hi = min_i(r1 - start, size);
            start += size;
            if (hi <= lo) continue;
            /* taps that can reach this class: (rh + ph - kh * dh) divisible by sh, same for w */
            idx tap_id[taps > 0 ? taps : 1], ntap = 0;
            for (idx kh = 0; kh < q.kh; kh++) {
                idx eh = rh + q.ph - kh * q.dh;
                if (((eh % q.sh) + q.sh) % q.sh) continue;
                for (idx kw = 0; kw < q.kw; kw++) {
                    idx ew = rw + q.pw - kw * q.dw;
                    if (((ew % q.sw) + q.sw) % q.sw) continue;
                    tap_id[ntap++] = kh * q.kw + kw;
                }
            }
            for (idx r00 = lo; r00 < hi; r00 += rb) {
                idx rows = min_i(rb, hi - r00), tiles = (rows + MR - 1) / MR;
                memset(xbuf, 0, (size_t)tiles * MR * ldx * 4);
                for (idx t = 0; t < tiles; t++) {
                    idx rn[MR], rh_[MR], rw_[MR];
                    for (int i = 0; i < MR; i++) {
                        idx r = r00 + min_i(t * MR + i, rows - 1), rem = r % (nh * nw);
                        rn[i] = r / (nh * nw);
                        rh_[i] = rh + (rem / nw) * q.sh;
                        rw_[i] = rw + (rem % nw) * q.sw;
                    }
                    for (idx s = 0; s < ntap; s++) {
                        idx kh = tap_id[s] / q.kw, kw = tap_id[s] % q.kw;
                        const float **at = a + (t * taps + s) * MR;
                        int any = 0;
                        for (int i = 0; i < MR; i++) {
                            idx eh = rh_[i] + q.ph - kh * q.dh, ew = rw_[i] + q.pw - kw * q.dw;
                            idx oh = q.sh == 1 ? eh : eh / q.sh, ow = q.sw == 1 ? ew : ew / q.sw;
                            if (eh >= 0 && ew >= 0 && oh < q.ho && ow < q.wo) {
                                at[i] = dy_t + ((rn[i] * q.ho + oh) * q.wo + ow) * q.co;
                                any = 1;
                            } else {
                                at[i] = zero;
                            }
                        }
                        active[t * taps + s] = (char)any;
                    }
                }
                /* reduction in chunks of at most KC_BI steps, each one or more whole taps (C_out <= KC_BI) or a
                 * range of output channels of one tap: the weight chunk (<= 32 KiB) stays in L1 */
                idx per = q.co <= KC_BI ? KC_BI / q.co : 1, step = q.co <= KC_BI ? q.co : KC_BI;
                for (idx p = 0; p < np; p++) {
                    const float *wp = w_b + p * taps * q.co * NR;
                    for (idx s0 = 0; s0 < ntap; s0 += per) {
                        idx s1 = min_i(ntap, s0 + per);
                        for (idx o0 = 0; o0 < q.co; o0 += step) {
                            idx len = min_i(step, q.co - o0);
                            for (idx t = 0; t < tiles; t++) {
                                idx ns = 0;
                                for (idx s = s0; s < s1; s++) {
                                    if (!active[t * taps + s]) continue;
                                    const float *const *at = a + (t * taps + s) * MR;
                                    for (int i = 0; i < MR; i++) aseg[ns * MR + i] = at[i] + o0;
                                    b[ns++] = wp + (tap_id[s] * q.co + o0) * NR;
                                }
                                if (ns) ukr(ns, len, aseg, b, NR, xbuf + t * MR * ldx + p * NR, ldx, 1);
                            }
                        }
                    }
                }
                if (q.sh == 1 && q.sw == 1) {
                    /* rows of one sample are consecutive (h, w) positions: one transposed copy per sample */
                    for (idx i = 0; i < rows;) {
                        idx r = r00 + i, n = r / (q.h * q.w), pos = r % (q.h * q.w);
                        idx run = min_i(rows - i, q.h * q.w - pos);
                        transpose(xbuf + i * ldx, ldx, run, nc, dx + (n * q.c + c0) * q.h * q.w + pos, q.h * q.w);
                        i += run;
                    }
                } else {
                    for (idx i = 0; i < rows; i++) {
                        idx r = r00 + i, n = r / (nh * nw), rem = r % (nh * nw);
                        idx h = rh + (rem / nw) * q.sh, w = rw + (rem % nw) * q.sw;
                        const float *src = xbuf + i * ldx;
                        float *d = dx + ((n * q.c + c0) * q.h + h) * q.w + w;
                        for (idx c = 0; c < nc; c++) d[c * q.h * q.w] = src[c];
                    }
                }
            }
        }
    }
    free(xbuf);
    free(a);
    free(active);
    free(aseg);
    free(zero);
    free(b);
}

/* ---------------------------------------------------------------------------------------------------- */
/* the whole backward on `threads` threads                                                                 */

typedef struct {
    const idx *g;
    const float *x, *dy, *w;
    float *dy_t, *w_b, *dx;
    float *acc;     /* lines mode: nparts accumulators of `part` floats each */
    idx part, tiles, lines, p0, p1;
    char *used;     /* lines mode: worker i has zeroed (and used) accumulator i */
    const float **parts;
    idx nparts;
    float *dw;
} bwd_ctx;

static void nhwc_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    geom q = unpack(b->g);
    (void)worker;
    im2win_to_nhwc(b->dy, b->dy_t, q.co, q.ho * q.wo, lo, hi);
}

static void pack_bwd_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    (void)worker;
    im2win_pack_bwd(b->g, b->w, b->w_b, b->p0, b->p1, lo, hi);
}

static void dx_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    (void)worker;
    im2win_bwd_input(b->g, b->dy_t, b->w_b, b->dx, b->p0, b->p1, lo, hi);
}

static void dw_lines_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    int first = !b->used[worker];
    b->used[worker] = 1;
    im2win_bwd_weight(b->g, b->x, b->dy, b->acc + worker * b->part, lo, hi, 0, b->tiles, first);
}

static void dw_units_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    (void)worker;
    im2win_bwd_weight_units(b->g, b->x, b->dy, b->dw, lo, hi);
}

static void finish_chunk(const void *c, idx lo, idx hi, int worker) {
    const bwd_ctx *b = c;
    (void)worker;
    im2win_dw_finish(b->g, b->parts, b->nparts, b->dw, lo, hi);
}

/* Input gradient (if dx): dy -> dy_t (channels last), then per group of GB input-channel panels: w -> w_b
 * (the group's panels), dx for the group's channels. Weight gradient (if dw): by_lines: into the `threads`
 * accumulators acc (worker i sums its chunks of output rows into the i-th), then dw in torch's layout; else
 * units of (reduction panel, channel block) straight into dw (acc unused). Chunk lengths: grain_x input
 * positions, grain_w output rows (by_lines) or units. */
void im2win_bwd_par(const idx *g, const float *x, const float *dy, const float *w, float *dy_t, float *w_b,
                    float *dx, float *acc, float *dw, int by_lines, int threads, idx grain_x, idx grain_w) {
    geom q = unpack(g);
    idx co_tiles = (q.co + MR - 1) / MR, tiles = q.kw * q.kp * co_tiles;
    bwd_ctx b = {g, x, dy, w, dy_t, w_b, dx, acc, tiles * MR * NR, tiles, q.n * q.ho * q.ppl, 0, 0, NULL, NULL, 0, dw};
    if (dx) {
        run_parallel(threads, q.n, 1, nhwc_chunk, &b);
        idx panels = q.cip / NR;
        for (idx p0 = 0; p0 < panels; p0 += q.gb) {
            b.p0 = p0;
            b.p1 = min_i(panels, p0 + q.gb);
            run_parallel(threads, q.co, (q.co + 2 * threads - 1) / (2 * threads), pack_bwd_chunk, &b);
            run_parallel(threads, q.n * q.h * q.w, grain_x, dx_chunk, &b);
        }
    }
    if (dw && !by_lines) {
        run_parallel(threads, dw_units(&q), grain_w, dw_units_chunk, &b);
    } else if (dw) {
        int nparts = threads > 0 ? threads : 1;
        char *used = calloc((size_t)nparts, 1);
        const float **parts = malloc((size_t)nparts * sizeof(float *));
        b.used = used;
        run_parallel(threads, q.n * q.ho * q.ppl, grain_w, dw_lines_chunk, &b);
        for (int i = 0; i < nparts; i++)
            if (used[i]) parts[b.nparts++] = acc + i * b.part;
        b.parts = parts;
        run_parallel(threads, q.co, (q.co + 2 * threads - 1) / (2 * threads), finish_chunk, &b);
        free(used);
        free(parts);
    }
}
