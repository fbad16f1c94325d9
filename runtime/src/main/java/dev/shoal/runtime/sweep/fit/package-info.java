/**
 * Fitting a sweep: {@link dev.shoal.runtime.sweep.fit.LevenbergMarquardt} (nonlinear least squares),
 * the data-mixing law {@link dev.shoal.runtime.sweep.fit.ExpLaw} L(r) = c + k·exp(t·r), the CMR law
 * {@link dev.shoal.runtime.sweep.fit.PowerLaw} R(T) = β0 + β1·T^s, {@link dev.shoal.runtime.sweep.fit.LineFit}
 * (optimal ALMR against log10 LR), {@link dev.shoal.runtime.sweep.fit.SweepAnalysis} (constrained optimum,
 * recommendation, residual bootstrap), and {@link dev.shoal.runtime.sweep.fit.Report} (HTML, SVG, Markdown).
 *
 * <p>Every fit carries its goodness of fit (R², RMSE, residuals, degrees of freedom) and a verdict: a
 * fit the data do not support (too few points, flat or non-monotone data, low R², no convergence) says why
 * and is not used for numbers downstream.
 */
package dev.shoal.runtime.sweep.fit;
