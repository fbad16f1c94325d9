// A small SVG writer for the sweep report: elements as text with escaping, linear and log10 scales with
// "nice" 1-2-5 ticks, and colour maps (a viridis-like sequential ramp, a categorical palette).
// Guarantees: the output is well-formed XML (every attribute and text escaped, every element closed), it
// references nothing outside itself (no fonts, images or scripts to fetch), and numbers are written with
// a dot decimal separator whatever the locale.
package dev.shoal.runtime.sweep.fit;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Not thread-safe: one builder per picture. */
public final class Svg {
    private final StringBuilder sb = new StringBuilder();
    private final int width, height;

    public static final String FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

    public Svg(int width, int height) {
        this.width = width;
        this.height = height;
        sb.append(String.format(
                Locale.ROOT,
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\""
                        + " font-family=\"%s\" font-size=\"12\">\n",
                width,
                height,
                width,
                height,
                FONT));
        rect(0, 0, width, height, "#ffffff", null, 0);
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    public static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    static String n(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    public Svg raw(String s) {
        sb.append(s).append('\n');
        return this;
    }

    public Svg rect(double x, double y, double w, double h, String fill, String stroke, double strokeWidth) {
        sb.append("<rect x=\"")
                .append(n(x))
                .append("\" y=\"")
                .append(n(y))
                .append("\" width=\"")
                .append(n(w))
                .append("\" height=\"")
                .append(n(h))
                .append("\" fill=\"")
                .append(fill == null ? "none" : fill)
                .append('"');
        if (stroke != null)
            sb.append(" stroke=\"")
                    .append(stroke)
                    .append("\" stroke-width=\"")
                    .append(n(strokeWidth))
                    .append('"');
        sb.append("/>\n");
        return this;
    }

    public Svg line(double x1, double y1, double x2, double y2, String stroke, double w, String dash) {
        sb.append("<line x1=\"")
                .append(n(x1))
                .append("\" y1=\"")
                .append(n(y1))
                .append("\" x2=\"")
                .append(n(x2))
                .append("\" y2=\"")
                .append(n(y2))
                .append("\" stroke=\"")
                .append(stroke)
                .append("\" stroke-width=\"")
                .append(n(w))
                .append('"');
        if (dash != null) sb.append(" stroke-dasharray=\"").append(dash).append('"');
        sb.append("/>\n");
        return this;
    }

    public Svg polyline(List<double[]> pts, String stroke, double w, String dash) {
        if (pts.size() < 2) return this;
        sb.append("<polyline fill=\"none\" stroke=\"")
                .append(stroke)
                .append("\" stroke-width=\"")
                .append(n(w))
                .append("\" stroke-linejoin=\"round\" stroke-linecap=\"round\"");
        if (dash != null) sb.append(" stroke-dasharray=\"").append(dash).append('"');
        sb.append(" points=\"");
        for (double[] p : pts) sb.append(n(p[0])).append(',').append(n(p[1])).append(' ');
        sb.append("\"/>\n");
        return this;
    }

    public Svg circle(double cx, double cy, double r, String fill, String stroke, double w) {
        sb.append("<circle cx=\"")
                .append(n(cx))
                .append("\" cy=\"")
                .append(n(cy))
                .append("\" r=\"")
                .append(n(r))
                .append("\" fill=\"")
                .append(fill == null ? "none" : fill)
                .append('"');
        if (stroke != null)
            sb.append(" stroke=\"")
                    .append(stroke)
                    .append("\" stroke-width=\"")
                    .append(n(w))
                    .append('"');
        sb.append("/>\n");
        return this;
    }

    /** A five-pointed star centred at (cx, cy). */
    public Svg star(double cx, double cy, double r, String fill, String stroke) {
        StringBuilder p = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            double rad = i % 2 == 0 ? r : r * 0.45;
            double a = -Math.PI / 2 + i * Math.PI / 5;
            p.append(n(cx + rad * Math.cos(a)))
                    .append(',')
                    .append(n(cy + rad * Math.sin(a)))
                    .append(' ');
        }
        sb.append("<polygon points=\"")
                .append(p)
                .append("\" fill=\"")
                .append(fill)
                .append("\" stroke=\"")
                .append(stroke)
                .append("\" stroke-width=\"1.2\"/>\n");
        return this;
    }

    /** Text; anchor start|middle|end; rotate in degrees about (x, y). */
    public Svg text(
            double x, double y, String s, double size, String anchor, String fill, boolean bold, double rotate) {
        sb.append("<text x=\"")
                .append(n(x))
                .append("\" y=\"")
                .append(n(y))
                .append("\" font-size=\"")
                .append(n(size))
                .append("\" text-anchor=\"")
                .append(anchor)
                .append("\" fill=\"")
                .append(fill)
                .append('"');
        if (bold) sb.append(" font-weight=\"bold\"");
        if (rotate != 0)
            sb.append(" transform=\"rotate(")
                    .append(n(rotate))
                    .append(' ')
                    .append(n(x))
                    .append(' ')
                    .append(n(y))
                    .append(")\"");
        sb.append('>').append(esc(s)).append("</text>\n");
        return this;
    }

    public Svg text(double x, double y, String s) {
        return text(x, y, s, 12, "start", "#222", false, 0);
    }

    /** A tooltip-bearing group opener; close with end(). */
    public Svg group(String title) {
        sb.append("<g>");
        if (title != null) sb.append("<title>").append(esc(title)).append("</title>");
        sb.append('\n');
        return this;
    }

    public Svg end() {
        sb.append("</g>\n");
        return this;
    }

    @Override
    public String toString() {
        return sb + "</svg>\n";
    }

    // ---- scales ----

    /** Maps data to pixels, linear or log10. */
    public record Scale(double d0, double d1, double p0, double p1, boolean log) {
        public double at(double v) {
            double a = log ? Math.log10(d0) : d0, b = log ? Math.log10(d1) : d1, x = log ? Math.log10(v) : v;
            return p0 + (x - a) / (b - a) * (p1 - p0);
        }

        /** Padded linear domain around [lo, hi] (5% each side; a flat range gets ±1% or ±0.5). */
        public static Scale padded(double lo, double hi, double p0, double p1) {
            double span = hi - lo;
            if (!(span > 0)) span = Math.max(Math.abs(lo) * 0.02, 1);
            return new Scale(lo - 0.06 * span, hi + 0.06 * span, p0, p1, false);
        }

        /** Log10 domain widened by a factor each side. */
        public static Scale logPadded(double lo, double hi, double p0, double p1) {
            double f = hi > lo ? Math.pow(hi / lo, 0.08) : 1.5;
            return new Scale(lo / f, hi * f, p0, p1, true);
        }

        public List<Double> ticks(int target) {
            return log ? logTicks(d0, d1) : niceTicks(Math.min(d0, d1), Math.max(d0, d1), target);
        }
    }

    /** 1-2-5 ticks inside [lo, hi]. */
    public static List<Double> niceTicks(double lo, double hi, int target) {
        double raw = (hi - lo) / Math.max(1, target);
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            step = m * mag;
            if (raw <= step) break;
        }
        List<Double> out = new ArrayList<>();
        for (double v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * step; v += step) {
            out.add(Math.abs(v) < 1e-12 * step ? 0 : v);
        }
        return out;
    }

    /** Decades and 2, 5 multiples inside [lo, hi]. */
    public static List<Double> logTicks(double lo, double hi) {
        List<Double> out = new ArrayList<>();
        for (int e = (int) Math.floor(Math.log10(lo)); e <= (int) Math.ceil(Math.log10(hi)); e++) {
            for (double m : new double[] {1, 2, 5}) {
                double v = m * Math.pow(10, e);
                if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.add(v);
            }
        }
        return out;
    }

    /** A tick label: short, no trailing zeros, scientific for small or large magnitudes. */
    public static String tick(double v) {
        if (v == 0) return "0";
        double a = Math.abs(v);
        if (a < 1e-3 || a >= 1e5) {
            String s = String.format(Locale.ROOT, "%.2g", v);
            String[] parts = s.split("e");
            String m = parts[0].contains(".") ? parts[0].replaceAll("0+$", "").replaceAll("\\.$", "") : parts[0];
            int exp = Integer.parseInt(parts[1]);
            return m + "e" + exp;
        }
        String s = String.format(Locale.ROOT, "%.4f", v);
        return s.replaceAll("0+$", "").replaceAll("\\.$", "");
    }

    /** Axes with ticks, grid lines and labels in the plot box [x0, x1] × [y0, y1] (y0 top). */
    public Svg axes(Scale xs, Scale ys, double x0, double x1, double y0, double y1, String xLabel, String yLabel) {
        return axes(xs, ys, x0, x1, y0, y1, xLabel, yLabel, xs.ticks(6));
    }

    /** As above, with the x ticks given (e.g. the sampled values on a log axis). */
    public Svg axes(
            Scale xs,
            Scale ys,
            double x0,
            double x1,
            double y0,
            double y1,
            String xLabel,
            String yLabel,
            List<Double> xTicks) {
        rect(x0, y0, x1 - x0, y1 - y0, "#fbfbfd", "#c8c8d0", 1);
        for (double t : xTicks) {
            double x = xs.at(t);
            if (x < x0 - 0.5 || x > x1 + 0.5) continue;
            line(x, y0, x, y1, "#e6e6ee", 1, null);
            line(x, y1, x, y1 + 5, "#555", 1, null);
            text(x, y1 + 18, tick(t), 11, "middle", "#333", false, 0);
        }
        for (double t : ys.ticks(6)) {
            double y = ys.at(t);
            if (y < y0 - 0.5 || y > y1 + 0.5) continue;
            line(x0, y, x1, y, "#e6e6ee", 1, null);
            line(x0 - 5, y, x0, y, "#555", 1, null);
            text(x0 - 8, y + 4, tick(t), 11, "end", "#333", false, 0);
        }
        text((x0 + x1) / 2, y1 + 40, xLabel, 12.5, "middle", "#222", false, 0);
        text(x0 - 52, (y0 + y1) / 2, yLabel, 12.5, "middle", "#222", false, -90);
        return this;
    }

    // ---- colours ----

    private static final int[][] VIRIDIS = {
        {0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89}, {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e},
        {0x1f, 0x9e, 0x89}, {0x35, 0xb7, 0x79}, {0x6e, 0xce, 0x58}, {0xb5, 0xde, 0x2b}, {0xfd, 0xe7, 0x25}
    };

    /** A perceptually ordered ramp, dark purple (0) to yellow (1). */
    public static String ramp(double t) {
        double x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
        int i = Math.min(VIRIDIS.length - 2, (int) Math.floor(x));
        double f = x - i;
        int[] a = VIRIDIS[i], b = VIRIDIS[i + 1];
        return String.format(
                Locale.ROOT,
                "#%02x%02x%02x",
                Math.round(a[0] + f * (b[0] - a[0])),
                Math.round(a[1] + f * (b[1] - a[1])),
                Math.round(a[2] + f * (b[2] - a[2])));
    }

    /** Whether black text reads better than white on ramp(t). */
    public static boolean lightRamp(double t) {
        return t > 0.55;
    }

    private static final String[] PALETTE = {
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"
    };

    public static String category(int i) {
        return PALETTE[Math.floorMod(i, PALETTE.length)];
    }
}
