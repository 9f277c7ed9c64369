/*
 * Elementwise passes of the fused SphereFace2 head (lib/backend/native/sf2_fused.ts), threaded with OpenMP, and of
 * the training step around it (conv epilogue, ReLU gradient, the SGD update: lib/backend/native_kernels.ts).
 * The matrix products around them run in oneDNN (dnnl_sgemm); this file holds only what no library provides:
 * the per-element loss and gradient of paper eq. 6 on one block of cosines, and the column normalisation of W.
 *
 * Built by lib/backend/native/build.sh (gcc from Debian's build-essential) into .cache/native/libsf2head.so and
 * opened with Deno.dlopen; without it the kit runs the same maths in TypeScript (sf2_fused.ts, elementwiseJs).
 *
 * Determinism: every loop is split over rows (or columns) with a static schedule and every sum is taken in a
 * fixed order inside one thread, so the same input and thread count give the same bytes.
 */
#include <math.h>
#include <stdint.h>

/* max/min as selects: fmaxf/fminf are out-of-line calls (NaN rules) that stop vectorisation. */
#define MAXF(a, b) ((a) > (b) ? (a) : (b))
#define MINF(a, b) ((a) < (b) ? (a) : (b))
/* ReLU that keeps a NaN (as tfjs's Relu and the TypeScript epilogue do), so a diverged step still shows as NaN. */
#define RELU(v) ((v) < 0.0f ? 0.0f : (v))

/* Parameter block, float64, as written by sf2_fused.ts (SF2_PARAMS). */
enum {
  P_VARIANT = 0, /* 0 = C, 1 = A, 2 = M */
  P_T,
  P_R,
  P_M,
  P_LAMBDA,
  P_BIAS,
  P_SCALE, /* lw / (r·B) */
  P_THROUGH_G,
  P_EPS,
  P_ANGLE_MAX,
  P_LO,
  P_HI,
  P_COUNT
};

/*
 * Branch-free expf and logf (Cephes' polynomials, about 1 ulp on their ranges) so that gcc vectorises the block
 * loop (16 floats per AVX-512 instruction); glibc's scalar expf/log1pf made the pass 3× slower than the products.
 */
static inline float vexpf(float x) {
  x = MAXF(x, -87.0f); /* 2^-126 at the bottom: no denormals; the callers only pass x ≤ 0 */
  x = MINF(x, 88.0f);
  float n = floorf(x * 1.44269504088896341f + 0.5f);
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float z = r * r;
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) * r + 5.0000001201e-1f;
  y = y * z + r + 1.0f;
  union {
    int32_t i;
    float f;
  } scale = {.i = ((int32_t)n + 127) << 23};
  return y * scale.f;
}

/* logf for a normal x > 0: x = 2^k·m, m in [√½, √2). */
static inline float vlogf(float x) {
  union {
    float f;
    int32_t i;
  } v = {.f = x};
  int32_t k = ((v.i >> 23) & 0xff) - 127;
  v.i = (v.i & 0x007fffff) | 0x3f800000; /* m in [1, 2) */
  float m = v.f;
  int big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  float fk = (float)(k + big);
  float t = m - 1.0f;
  float z = t * t;
  float y = ((((((((7.0376836292e-2f * t - 1.1514610310e-1f) * t + 1.1676998740e-1f) * t - 1.2420140846e-1f) * t +
                 1.4249322787e-1f) * t - 1.6668057665e-1f) * t + 2.0000714765e-1f) * t - 2.4999993993e-1f) * t +
            3.3333331174e-1f) * t * z;
  y += -2.12194440e-4f * fk;
  y += -0.5f * z;
  return t + y + 0.693359375f * fk;
}

/* log(1 + e) for e in [0, 1]: log(u)·e/(u − 1) with u = 1 + e corrects the rounding of 1 + e (e for tiny e). */
static inline float vlog1pf(float e) {
  float u = 1.0f + e;
  float d = u - 1.0f;
  return d == 0.0f ? e : vlogf(u) * (e / d);
}

/* u^t for u ≥ 0: products for the paper's integer t (1…5), exp(t·log u) otherwise. */
static inline float gpow(float u, float t, int ti) {
  float u2 = u * u;
  switch (ti) {
    case 0: return 1.0f;
    case 1: return u;
    case 2: return u2;
    case 3: return u2 * u;
    case 4: return u2 * u2;
    case 5: return u2 * u2 * u;
    default: return u > 0.0f ? vexpf(t * vlogf(u * 0x1p32f) - t * 22.18070977791825f) : 0.0f;
  }
}

/* Target similarity s_y from the target cosine (double: B values per step). */
static double target_similarity(double c, const double *p) {
  const int variant = (int)p[P_VARIANT];
  const double t = p[P_T];
  if (variant == 0) return 2.0 * pow(fmax((c + 1.0) * 0.5, 0.0), t) - 1.0 - p[P_M];
  const double eps = p[P_EPS];
  double cc = fmin(fmax(c, -1.0 + eps), 1.0 - eps);
  double theta = acos(cc);
  double shifted = variant == 1 ? theta + p[P_M] : theta * p[P_M];
  shifted = fmin(fmax(shifted, eps), p[P_ANGLE_MAX]);
  return 2.0 * pow(fmax((cos(shifted) + 1.0) * 0.5, 0.0), t) - 1.0;
}

/* The inner loop over one row, inlined per integer t (ti is a constant in each call) so it vectorises. */
static inline __attribute__((always_inline)) void row_pass(float *row, int64_t cols, float lo, float hi, float t,
                                                            int ti, float r, float shift, float bias, float scale,
                                                            float wn, int through_g, float *loss_out,
                                                            float *dz_out) {
  float loss = 0.0f, dzsum = 0.0f;
#pragma omp simd reduction(+ : loss, dzsum)
    for (int64_t j = 0; j < cols; j++) {
      float cj = MINF(MAXF(row[j], lo), hi);
      float u = MAXF((cj + 1.0f) * 0.5f, 0.0f);
      float s = 2.0f * gpow(u, t, ti) - 1.0f + shift;
      float z = r * s + bias;
      float e = vexpf(-(z < 0.0f ? -z : z));
      float sp = MAXF(z, 0.0f) + vlog1pf(e);
      float sig = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      float dz = scale * wn * sig;
      loss += wn * sp;
      dzsum += dz;
      float chain = through_g ? r * t * gpow(u, t - 1.0f, ti >= 1 ? ti - 1 : -1) : r;
      row[j] = chain * dz;
    }
  *loss_out = loss;
  *dz_out = dzsum;
}

/*
 * In place on one block of cosines c[i*ld + j] (rows × cols, classes j0 … j0+cols−1): replaces each cosine with
 * dL/dc and adds, per row, Σ w'·softplus(±z) to loss_rows[i] and Σ dL/dz to dz_rows[i] (both float64).
 *   z = r·s + b,  s = g(c) ± m (C) or g(clip(c)) / target s_y (A, M),  w' = λ | 1−λ,
 *   dL/dz = scale·w'·(σ(z) − y),  dL/dc = r·dL/dz (detached) or r·g'(c)·dL/dz (through-g).
 */
void sf2_block(float *c, int64_t rows, int64_t cols, int64_t ld, int64_t j0, const int32_t *labels, const double *p,
               double *loss_rows, double *dz_rows) {
  const int variant = (int)p[P_VARIANT];
  const float t = (float)p[P_T];
  const int ti = (p[P_T] == floor(p[P_T]) && p[P_T] <= 5) ? (int)p[P_T] : -1;
  const float r = (float)p[P_R], m = (float)p[P_M], lambda = (float)p[P_LAMBDA], bias = (float)p[P_BIAS];
  const float scale = (float)p[P_SCALE];
  const int through_g = p[P_THROUGH_G] != 0.0;
  const float lo = variant == 0 ? -INFINITY : (float)p[P_LO], hi = variant == 0 ? INFINITY : (float)p[P_HI];
  const float shift = variant == 0 ? m : 0.0f;
  const float wn = 1.0f - lambda;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; i++) {
    float *row = c + i * ld;
    const int64_t y = (int64_t)labels[i] - j0;
    const float yc = (y >= 0 && y < cols) ? row[y] : 0.0f;
    float loss, dzsum;
    switch (ti) {
      case 1: row_pass(row, cols, lo, hi, t, 1, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
      case 2: row_pass(row, cols, lo, hi, t, 2, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
      case 3: row_pass(row, cols, lo, hi, t, 3, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
      case 4: row_pass(row, cols, lo, hi, t, 4, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
      case 5: row_pass(row, cols, lo, hi, t, 5, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
      default: row_pass(row, cols, lo, hi, t, -1, r, shift, bias, scale, wn, through_g, &loss, &dzsum); break;
    }
    double lrow = loss, drow = dzsum;
    if (y >= 0 && y < cols) {
      /* Undo the non-target term of the target column, then add its target term (double: one per row). */
      double cy = yc;
      double cjn = fmin(fmax(cy, (double)lo), (double)hi);
      double un = fmax((cjn + 1.0) * 0.5, 0.0);
      double zn = r * (2.0 * pow(un, t) - 1.0 + shift) + bias;
      double en = exp(-fabs(zn));
      double spn = fmax(zn, 0.0) + log1p(en);
      double sign = zn >= 0.0 ? 1.0 / (1.0 + en) : en / (1.0 + en);
      lrow -= wn * spn;
      drow -= (double)(scale * wn) * sign;
      double zy = r * target_similarity(cy, p) + bias;
      double ey = exp(-fabs(zy));
      double spy = fmax(-zy, 0.0) + log1p(ey); /* softplus(−z) */
      double sigy = zy >= 0.0 ? 1.0 / (1.0 + ey) : ey / (1.0 + ey);
      double dzy = (double)scale * lambda * (sigy - 1.0);
      lrow += lambda * spy;
      drow += dzy;
      double chain = through_g ? r * t * pow(fmax((cy + 1.0) * 0.5, 0.0), t - 1.0) : r;
      row[y] = (float)(chain * dzy);
    }
    loss_rows[i] += lrow;
    dz_rows[i] += drow;
  }
}

/*
 * W (d × K, row-major) → W with unit columns, written to out (may equal w): out[:, j] = w[:, j] / max(‖w_j‖, 1e-12)
 * (a division, as tfjs's normalizeColumns, not a reciprocal product). norms is scratch of K floats. Split over column ranges so each thread streams its own slice of every row.
 */
void sf2_normalize_columns(const float *w, float *out, int64_t d, int64_t k, float *norms) {
#pragma omp parallel
  {
#ifdef _OPENMP
    extern int omp_get_thread_num(void);
    extern int omp_get_num_threads(void);
    const int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
#else
    const int64_t nt = 1, id = 0;
#endif
    /* Column ranges aligned to 16 floats so threads never share a cache line of norms. */
    int64_t per = ((k + nt - 1) / nt + 15) / 16 * 16;
    int64_t a = id * per, b = a + per < k ? a + per : k;
    if (a < b) {
      for (int64_t j = a; j < b; j++) norms[j] = 0.0f;
      for (int64_t i = 0; i < d; i++) {
        const float *row = w + i * k;
#pragma omp simd
        for (int64_t j = a; j < b; j++) norms[j] += row[j] * row[j];
      }
      for (int64_t j = a; j < b; j++) norms[j] = fmaxf(sqrtf(norms[j]), 1e-12f);
      for (int64_t i = 0; i < d; i++) {
        const float *row = w + i * k;
        float *orow = out + i * k;
#pragma omp simd
        for (int64_t j = a; j < b; j++) orow[j] = row[j] / norms[j];
      }
    }
  }
}

/*
 * The margin-softmax heads (NormFace, SphereFace, CosFace, ArcFace) on the full B×K cosines c (row stride ld), in
 * place: logits l_j = s·clip(c_j) for j ≠ y and s·ψ_i for the target (ψ precomputed per row), then
 *   loss_rows[i] = logsumexp(l) − s·ψ_i,   c_j ← (s/B)·(softmax(l)_j − [j = y])   (OpenSphere's detached margin).
 */
void margin_rows(float *c, int64_t rows, int64_t cols, int64_t ld, const int32_t *labels, const float *psi, float s,
                 float lo, float hi, float inv_b, double *loss_rows) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; i++) {
    float *row = c + i * ld;
    const int64_t y = labels[i];
    const float ly = s * psi[i];
    /* The target column is masked out of the non-target max and sum (a select keeps the loops vectorised). */
    float mx = ly;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < cols; j++) {
      float l = j == y ? ly : s * MINF(MAXF(row[j], lo), hi);
      mx = MAXF(mx, l);
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t j = 0; j < cols; j++) sum += j == y ? 0.0f : vexpf(s * MINF(MAXF(row[j], lo), hi) - mx);
    double total = (double)sum + exp((double)ly - mx);
    const float lse = (float)(mx + log(total));
    const float g = s * inv_b;
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) row[j] = g * vexpf(s * MINF(MAXF(row[j], lo), hi) - lse);
    row[y] = (float)(g * (exp((double)ly - lse) - 1.0));
    loss_rows[i] = (double)lse - ly;
  }
}

/*
 * out[i, j] = act(out[i, j] + bias[j]) over rows × c (NHWC conv outputs, c channels), act = ReLU or identity; bias
 * may be NULL. The eval forward's FusedConv2D epilogue (lib/backend/native_kernels.ts), threaded over rows.
 */
void sf2_bias_act(float *out, int64_t rows, int64_t c, const float *bias, int relu) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < rows; i++) {
    float *o = out + i * c;
    if (bias && relu) {
#pragma omp simd
      for (int64_t j = 0; j < c; j++) o[j] = RELU(o[j] + bias[j]);
    } else if (bias) {
#pragma omp simd
      for (int64_t j = 0; j < c; j++) o[j] = o[j] + bias[j];
    } else if (relu) {
#pragma omp simd
      for (int64_t j = 0; j < c; j++) o[j] = RELU(o[j]);
    }
  }
}

/*
 * out[i] = dy[i] · (y[i] > 0 ? 1 : 0): the gradient through a ReLU, given its output y (lib/backend/fused_ops.ts,
 * the training conv's backward). The same product tfjs takes (dy times the float step of y), so the same bytes,
 * -0 included; threaded only over large tensors (an OpenMP wake-up costs more than a small pass).
 */
void sf2_relu_grad(const float *dy, const float *y, float *out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) out[i] = dy[i] * (y[i] > 0.0f ? 1.0f : 0.0f);
}

/*
 * One momentum-SGD update of one parameter tensor with PyTorch's rule (lib/train/sgd.ts):
 *   g ← g·scale (when scale ≠ 1); d ← g + wd·w (when wd ≠ 0); v ← momentum·buf + d; w ← w − lr·v,
 * each product and sum rounded to float32 in that order, as the tfjs ops it replaces round them, so the bytes equal
 * theirs: no FMA contraction (fp-contract=off), no reassociation. Writes w_out and buf_out (fresh tensors).
 */
__attribute__((optimize("fp-contract=off"))) void sf2_sgd_step(const float *w, const float *g, const float *buf,
                                                                float *w_out, float *buf_out, int64_t n, float lr,
                                                                float momentum, float wd, float scale) {
  const int scaled = scale != 1.0f, decay = wd != 0.0f;
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    float gi = scaled ? g[i] * scale : g[i];
    float d = decay ? gi + w[i] * wd : gi;
    float v = buf[i] * momentum + d;
    buf_out[i] = v;
    w_out[i] = w[i] - v * lr;
  }
}

/* out = a + b over n floats (same shapes: the residual adds and autodiff's gradient sums of a training step). */
void sf2_add(const float *a, const float *b, float *out, int64_t n) {
#pragma omp parallel for simd schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/*
 * out = x reversed along W, for NHWC x viewed as rows (N·H) × w pixels × c channels: the horizontal flip of a batch
 * (flip-fused embeddings, lib/eval). A copy, so the same bytes as tfjs's Reverse.
 */
void sf2_flip_w(const float *x, float *out, int64_t rows, int64_t w, int64_t c) {
#pragma omp parallel for schedule(static) if (rows * w * c > 65536)
  for (int64_t r = 0; r < rows; r++) {
    const float *src = x + r * w * c;
    float *dst = out + r * w * c;
    for (int64_t j = 0; j < w; j++) {
      const float *s = src + (w - 1 - j) * c;
      float *d = dst + j * c;
      for (int64_t k = 0; k < c; k++) d[k] = s[k];
    }
  }
}

/* Version of this helper's ABI (sf2_fused.ts refuses another). */
int sf2_abi_version(void) { return 4; }
