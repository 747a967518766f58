"""The report's table of a human-noise block (CIFAR-N label sets).

Rows are losses, columns the label sets of `noise_kind="human"`
(`recipes.blocks`, kind `"label_set"`), each headed by the measured noise
rate of its runs (`RunResult.measured_noise_rate`, the fraction of their
training labels that differ from the true ones). A cell is the final test
accuracy, `mean ± s.e.` over seeds with `n=` under the paper's five, then
the false-label accuracy (the accuracy on the training images whose human
label is wrong, against their true labels); bold as in the noise tables:
within error bars of the best test accuracy of the column.

The paper (synthetic noise only) has no such table, so nothing here is
compared with it. The published CIFAR-N numbers (Wei et al., ICLR 2022)
are not printed beside ours: no source of them was at hand to cite.
"""

from recipes import statistics
from recipes import tables


def _header(block, column):
    rate = block.measured_noise_rate(column)
    return column if rate is None else f"{column} ({100 * rate:.2f} % wrong)"


def label_set_table(block):
    """The Markdown of a `"label_set"` block: test / false-label accuracy (%)."""
    bold = {column: tables.bold_rows(block, column) for column in block.columns}
    header = ["Loss"] + [_header(block, column) for column in block.columns]
    rows = []
    for row in block.rows:
        line = [block.label(row)]
        for column in block.columns:
            cell = block.rows[row].get(column)
            if cell is None or cell.statistic is None:
                line.append("–")
                continue
            text = tables.cell_text(cell.statistic, 1, bold=row in bold[column])
            false_label = tables.statistics_or_none(cell, "false_label_accuracy")
            if false_label:
                text += f" / {statistics.format_statistic(*false_label, 1)}"
            line.append(text)
        rows.append(line)
    return tables.markdown_table(header, rows)
