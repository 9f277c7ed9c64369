/*
 * Elementwise passes of the fused SphereFace2 head (lib/backend/native/sf2_fused.ts), threaded with OpenMP.
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

static inline float powi_f(float u, int t) {
  float r = 1.0f;
  for (int k = 0; k < t; k++) r *= u;
  return r;
}

static inline float gpow(float u, float t, int ti) { return ti >= 0 ? powi_f(u, ti) : powf(u, t); }

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
  const int ti = (p[P_T] == floor(p[P_T]) && p[P_T] <= 8) ? (int)p[P_T] : -1;
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
    float loss = 0.0f, dzsum = 0.0f;
#pragma omp simd reduction(+ : loss, dzsum)
    for (int64_t j = 0; j < cols; j++) {
      float cj = fminf(fmaxf(row[j], lo), hi);
      float u = fmaxf((cj + 1.0f) * 0.5f, 0.0f);
      float s = 2.0f * gpow(u, t, ti) - 1.0f + shift;
      float z = r * s + bias;
      float e = expf(-fabsf(z));
      float sp = fmaxf(z, 0.0f) + log1pf(e);
      float sig = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
      float dz = scale * wn * sig;
      loss += wn * sp;
      dzsum += dz;
      float chain = through_g ? r * t * gpow(u, t - 1.0f, ti >= 1 ? ti - 1 : -1) : r;
      row[j] = chain * dz;
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

/* Version of this helper's ABI (sf2_fused.ts refuses another). */
int sf2_abi_version(void) { return 1; }
