// Text and SVG plots. Both scale to the finite range of the samples, padded so
// that flat curves (identity's derivative) still get a visible band.
#include "client/cli/plot.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace actd::cli {
namespace {

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void Add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // Pads to a non-empty range and snaps outwards to whole numbers/halves.
  void Finish() {
    if (lo > hi) lo = -1, hi = 1;
    if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
    const double pad = 0.05 * (hi - lo);
    lo = std::floor((lo - pad) * 2) / 2;
    hi = std::ceil((hi + pad) * 2) / 2;
  }
};

std::string Number(double v) { return absl::StrFormat("%g", v); }

}  // namespace

std::string TextPlot(const Curve& curve, int width, int height) {
  Range y;
  for (double v : curve.f) y.Add(v);
  for (double v : curve.df) y.Add(v);
  y.Finish();
  const double x_lo = curve.x.front(), x_hi = curve.x.back();
  std::vector<std::vector<std::string>> grid(
      height, std::vector<std::string>(width, " "));
  auto col = [&](double x) {
    return static_cast<int>(
        std::lround((x - x_lo) / (x_hi - x_lo) * (width - 1)));
  };
  auto row = [&](double v) {
    return static_cast<int>(
        std::lround((y.hi - v) / (y.hi - y.lo) * (height - 1)));
  };
  const int axis_row = (y.lo <= 0 && y.hi >= 0) ? row(0) : -1;
  const int axis_col = (x_lo <= 0 && x_hi >= 0) ? col(0) : -1;
  for (int c = 0; c < width && axis_row >= 0; ++c) grid[axis_row][c] = "─";
  for (int r = 0; r < height && axis_col >= 0; ++r) {
    grid[r][axis_col] = r == axis_row ? "┼" : "│";
  }
  auto draw = [&](const std::vector<double>& values, const char* mark) {
    for (size_t i = 0; i < values.size() && i < curve.x.size(); ++i) {
      if (std::isfinite(values[i]))
        grid[row(values[i])][col(curve.x[i])] = mark;
    }
  };
  draw(curve.df, "∘");
  draw(curve.f, "•");
  const std::string top = Number(y.hi), bottom = Number(y.lo);
  const size_t margin = std::max(top.size(), bottom.size());
  std::string out;
  for (int r = 0; r < height; ++r) {
    std::string label = r == 0 ? top : r == height - 1 ? bottom : "";
    label.insert(0, margin - label.size(), ' ');
    absl::StrAppend(&out, label, " ┤");
    for (const std::string& cell : grid[r]) absl::StrAppend(&out, cell);
    out.push_back('\n');
  }
  std::string x_labels = Number(x_lo);
  const std::string right = Number(x_hi);
  x_labels.append(std::max<int>(1, width - x_labels.size() - right.size()),
                  ' ');
  absl::StrAppend(&out, std::string(margin + 2, ' '), x_labels, right, "\n");
  absl::StrAppend(&out, std::string(margin + 2, ' '), "• f(x)   ∘ f'(x)\n");
  return out;
}

namespace {

constexpr const char* kColors[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                   "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                                   "#bcbd22", "#17becf"};

// Where a chart goes: its frame in the document and the first colour index.
struct Panel {
  double x = 0, y = 0, width = 800, height = 500;
  double right = 170;  // room for the legend
  size_t first_color = 0;
};

// The data-to-pixel mapping of one chart.
struct Frame {
  double left = 60, top = 50, plot_w = 0, plot_h = 0;
  double x_lo = INFINITY, x_hi = -INFINITY;
  Range y;
  double px(double x) const {
    return left + (x - x_lo) / (x_hi - x_lo) * plot_w;
  }
  double py(double v) const {
    return top + (y.hi - v) / (y.hi - y.lo) * plot_h;
  }
};

Frame MakeFrame(const std::vector<Curve>& curves, const Panel& panel) {
  Frame fr;
  for (const Curve& c : curves) {
    for (double v : c.f) fr.y.Add(v);
    for (double v : c.df) fr.y.Add(v);
    fr.x_lo = std::min(fr.x_lo, c.x.front());
    fr.x_hi = std::max(fr.x_hi, c.x.back());
  }
  fr.y.Finish();
  fr.plot_w = panel.width - fr.left - panel.right;
  fr.plot_h = panel.height - fr.top - 50;
  return fr;
}

// Grid lines and tick labels: integers on x, about eight steps on y.
std::string GridAndLabels(const Frame& fr) {
  std::string svg = "<g class=\"grid\" stroke=\"#ddd\">\n", labels;
  const double x_step = std::max(1.0, std::ceil((fr.x_hi - fr.x_lo) / 10));
  for (double x = std::ceil(fr.x_lo / x_step) * x_step; x <= fr.x_hi + 1e-9;
       x += x_step) {
    absl::StrAppendFormat(
        &svg, "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>\n", fr.px(x),
        fr.top, fr.px(x), fr.top + fr.plot_h);
    absl::StrAppendFormat(
        &labels, "<text x=\"%.2f\" y=\"%g\" text-anchor=\"middle\">%g</text>\n",
        fr.px(x), fr.top + fr.plot_h + 16, x);
  }
  const double raw_step = (fr.y.hi - fr.y.lo) / 8;
  const double magnitude = std::pow(10, std::floor(std::log10(raw_step)));
  const double y_step = raw_step / magnitude < 2   ? magnitude
                        : raw_step / magnitude < 5 ? 2 * magnitude
                                                   : 5 * magnitude;
  for (double v = std::ceil(fr.y.lo / y_step) * y_step; v <= fr.y.hi + 1e-9;
       v += y_step) {
    absl::StrAppendFormat(
        &svg, "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n", fr.left,
        fr.py(v), fr.left + fr.plot_w, fr.py(v));
    absl::StrAppendFormat(
        &labels, "<text x=\"%g\" y=\"%.2f\" text-anchor=\"end\">%g</text>\n",
        fr.left - 6, fr.py(v) + 4, std::abs(v) < 1e-12 ? 0.0 : v);
  }
  absl::StrAppend(&svg, "</g>\n<g class=\"labels\">\n", labels, "</g>\n");
  return svg;
}

// Axes through the origin when it is in view, else along the frame.
std::string Axes(const Frame& fr, double height) {
  const double axis_y =
      (fr.y.lo <= 0 && fr.y.hi >= 0) ? fr.py(0) : fr.top + fr.plot_h;
  const double axis_x = (fr.x_lo <= 0 && fr.x_hi >= 0) ? fr.px(0) : fr.left;
  return absl::StrFormat(
      "<g class=\"axes\" stroke=\"black\">\n"
      "<line x1=\"%g\" y1=\"%.2f\" x2=\"%g\" y2=\"%.2f\"/>\n"
      "<line x1=\"%.2f\" y1=\"%g\" x2=\"%.2f\" y2=\"%g\"/>\n</g>\n"
      "<text class=\"axis-label\" x=\"%g\" y=\"%g\" "
      "text-anchor=\"middle\">x</text>\n"
      "<text class=\"axis-label\" x=\"16\" y=\"%g\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 16 %g)\">f(x), f'(x)</text>\n",
      fr.left, axis_y, fr.left + fr.plot_w, axis_y, axis_x, fr.top, axis_x,
      fr.top + fr.plot_h, fr.left + fr.plot_w / 2, height - 10,
      fr.top + fr.plot_h / 2, fr.top + fr.plot_h / 2);
}

// The path of one curve, lifting the pen over non-finite samples.
std::string PathData(const Frame& fr, const std::vector<double>& x,
                     const std::vector<double>& v) {
  std::string d;
  bool pen_down = false;
  for (size_t k = 0; k < v.size() && k < x.size(); ++k) {
    if (!std::isfinite(v[k])) {
      pen_down = false;
      continue;
    }
    absl::StrAppendFormat(&d, "%s%.2f %.2f ", pen_down ? "L" : "M", fr.px(x[k]),
                          fr.py(v[k]));
    pen_down = true;
  }
  return d;
}

std::string EscapeXml(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out.push_back(c);
  }
  return out;
}

// Grid, tick labels, axes, the curves and their legend of one chart.
std::string RenderPanel(const std::vector<Curve>& curves, const Panel& panel) {
  const Frame fr = MakeFrame(curves, panel);
  std::string svg = absl::StrFormat(
      "<g class=\"panel\" transform=\"translate(%g %g)\">\n", panel.x, panel.y);
  absl::StrAppend(&svg, GridAndLabels(fr), Axes(fr, panel.height));
  std::string legend = "<g class=\"legend\">\n";
  const double lx = fr.left + fr.plot_w + 15;
  double ly = fr.top + 10;
  for (size_t i = 0; i < curves.size(); ++i) {
    const Curve& c = curves[i];
    const char* color = kColors[(panel.first_color + i) % std::size(kColors)];
    const std::string desc =
        c.note.empty() ? "" : "<desc>" + EscapeXml(c.note) + "</desc>";
    for (int derivative = 0; derivative < 2; ++derivative, ly += 18) {
      const char* dash = derivative ? " stroke-dasharray=\"6 4\"" : "";
      absl::StrAppendFormat(
          &svg,
          "<path class=\"%s\" data-activation=\"%s\" d=\"%s\" fill=\"none\" "
          "stroke=\"%s\" stroke-width=\"2\"%s>%s</path>\n",
          derivative ? "df" : "f", c.name,
          PathData(fr, c.x, derivative ? c.df : c.f), color, dash, desc);
      absl::StrAppendFormat(
          &legend,
          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
          "stroke-width=\"2\"%s/>\n<text x=\"%g\" y=\"%g\">%s%s</text>\n",
          lx, ly, lx + 25, ly, color, dash, lx + 32, ly + 4, c.name,
          derivative ? "′(x)" : "(x)");
    }
    if (!c.note.empty()) {
      absl::StrAppendFormat(&legend,
                            "<text class=\"note\" x=\"%g\" y=\"%g\" "
                            "font-size=\"9\">%s: %s</text>\n",
                            lx, ly + 2, c.name, EscapeXml(c.note));
      ly += 16;
    }
  }
  absl::StrAppend(&svg, legend, "</g>\n</g>\n");
  return svg;
}

}  // namespace

std::string RenderSvg(const std::vector<Curve>& curves,
                      const std::string& title, bool grid) {
  // Single: one 800 x 500 chart. Grid: 450 x 300 panels, up to 3 a row.
  const size_t n = std::max<size_t>(curves.size(), 1);
  const size_t cols = grid ? std::min<size_t>(n, 3) : 1;
  const size_t rows = grid ? (n + cols - 1) / cols : 1;
  const double cell_w = grid ? 450 : 800, cell_h = grid ? 300 : 500;
  const double width = cols * cell_w, height = 20 + rows * cell_h;
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text class=\"title\" x=\"%g\" y=\"28\" text-anchor=\"middle\" "
      "font-size=\"16\">%s</text>\n",
      width, height, width, height, grid ? width / 2 : 60 + (800 - 230) / 2.0,
      title);
  if (!grid) {
    absl::StrAppend(&svg, RenderPanel(curves, Panel{}));
  } else {
    for (size_t i = 0; i < curves.size(); ++i) {
      Panel panel;
      panel.x = (i % cols) * cell_w;
      panel.y = 20 + (i / cols) * cell_h;
      panel.width = cell_w;
      panel.height = cell_h;
      panel.right = 140;
      panel.first_color = i;
      absl::StrAppend(&svg, RenderPanel({curves[i]}, panel));
    }
  }
  absl::StrAppend(&svg, "</svg>\n");
  return svg;
}

}  // namespace actd::cli
