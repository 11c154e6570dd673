/* matrix.h: pairwise matrices for reports and heatmaps (n x n, row-major, caller-owned).
 *
 * Cells with no meaning (the diagonal, pairs that never met) are NAN. */
#ifndef ARENA_MATRIX_H
#define ARENA_MATRIX_H

#include <stddef.h>
#include "battles.h"

/* out[i*n + j] = battles between models i and j (either side, ties included). */
void mx_battle_counts(const rt_data *d, double *out);

/* FastChat's compute_pairwise_win_fraction: out[i*n + j] = (wins of i over j, as model_a
 * or model_b) / (all battles between i and j). Ties count in the denominator and in
 * neither numerator, so a row and its transpose need not add to 1; on a snapshot taken
 * with exclude_ties (FastChat's battles_no_ties) they do. */
void mx_win_fraction(const rt_data *d, double *out);

/* out[i*n + j] = 1 / (1 + base^((rating[j] - rating[i]) / scale)): the predicted
 * probability that i beats j (FastChat's predict_win_rate). */
void mx_predicted_win(size_t n, const double *rating, double scale, double base, double *out);

#endif
