// Pictures of activations: a small Unicode character plot for the terminal
// and a standalone SVG with axes, grid, legend and one <path> per curve.
// Pure functions of the sampled values; the RPCs happen in the commands.
#ifndef ACTD_CLIENT_CLI_PLOT_H_
#define ACTD_CLIENT_CLI_PLOT_H_

#include <string>
#include <vector>

namespace actd::cli {

// One activation sampled on a grid: f(x) and f'(x).
struct Curve {
  std::string name;
  std::string note;  // what the curve shows when not plain f(x) (probe.h)
  std::vector<double> x, f, df;
};

// A width x height character plot of f ('•') and f' ('∘') with the axes and
// the y range on the left. Non-finite samples are skipped.
std::string TextPlot(const Curve& curve, int width = 61, int height = 15);

// An SVG document titled `title`: per curve a solid <path class="f"> and a
// dashed <path class="df">, both with data-activation="<name>". All curves
// share one chart, or with `grid` each gets its own panel (own y scale).
std::string RenderSvg(const std::vector<Curve>& curves,
                      const std::string& title, bool grid = false);

}  // namespace actd::cli

#endif  // ACTD_CLIENT_CLI_PLOT_H_
