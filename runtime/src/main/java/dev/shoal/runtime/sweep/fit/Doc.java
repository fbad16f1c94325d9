// A tiny document model that renders the same report twice: as Markdown (pictures linked as SVG files)
// and as one self-contained HTML page (pictures inlined as SVG, CSS in the page, no external resource).
// Guarantees: all text is escaped for HTML; **bold** is the only inline markup, in both renderings.
package dev.shoal.runtime.sweep.fit;

import java.util.ArrayList;
import java.util.List;

/** Not thread-safe. */
final class Doc {
    record Figure(String file, String svg) {}

    private sealed interface Block permits H, P, Table, Fig {}

    private record H(int level, String text) implements Block {}

    private record P(String text) implements Block {}

    private record Table(List<String> header, List<List<String>> rows) implements Block {}

    private record Fig(Figure f, String caption) implements Block {}

    private final List<Block> blocks = new ArrayList<>();

    void h(int level, String text) {
        blocks.add(new H(level, text));
    }

    void p(String text) {
        blocks.add(new P(text));
    }

    void table(List<String> header, List<List<String>> rows) {
        blocks.add(new Table(header, rows));
    }

    void figure(Figure f, String caption) {
        blocks.add(new Fig(f, caption));
    }

    String markdown() {
        StringBuilder sb = new StringBuilder();
        for (Block b : blocks) {
            if (b instanceof H h) {
                sb.append("#".repeat(h.level())).append(' ').append(h.text()).append("\n\n");
            } else if (b instanceof P p) {
                sb.append(p.text()).append("\n\n");
            } else if (b instanceof Table t) {
                {
                    sb.append("| ").append(String.join(" | ", t.header())).append(" |\n|");
                    sb.append(" --- |".repeat(t.header().size())).append('\n');
                    for (List<String> r : t.rows()) {
                        sb.append("| ")
                                .append(String.join(
                                        " | ",
                                        r.stream()
                                                .map(c -> c.replace("|", "\\|"))
                                                .toList()))
                                .append(" |\n");
                    }
                    sb.append('\n');
                }
            } else if (b instanceof Fig g) {
                sb.append("![")
                        .append(g.caption())
                        .append("](")
                        .append(g.f().file())
                        .append(")\n\n");
            }
        }
        return sb.toString();
    }

    String html(String title) {
        StringBuilder sb = new StringBuilder();
        sb.append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>")
                .append(Svg.esc(title))
                .append("</title>\n<style>\n")
                .append("body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;"
                        + "padding:0 1em;color:#222;line-height:1.45}\n")
                .append("h1{font-size:1.6em;border-bottom:2px solid #ddd;padding-bottom:.3em}h2{margin-top:1.8em}\n")
                .append("table{border-collapse:collapse;margin:1em 0;font-size:.88em}"
                        + "th,td{border:1px solid #d5d5dd;padding:.3em .6em;text-align:left;vertical-align:top}"
                        + "th{background:#f1f1f6}tr:nth-child(even) td{background:#fafafc}\n")
                .append("figure{margin:1.2em 0}figcaption{color:#555;font-size:.9em}svg{max-width:100%;height:auto}\n")
                .append("</style>\n</head>\n<body>\n");
        for (Block b : blocks) {
            if (b instanceof H h) {
                sb.append("<h")
                        .append(h.level())
                        .append('>')
                        .append(inline(h.text()))
                        .append("</h")
                        .append(h.level())
                        .append(">\n");
            } else if (b instanceof P p) {
                sb.append("<p>").append(inline(p.text())).append("</p>\n");
            } else if (b instanceof Table t) {
                {
                    sb.append("<table>\n<tr>");
                    for (String c : t.header())
                        sb.append("<th>").append(inline(c)).append("</th>");
                    sb.append("</tr>\n");
                    for (List<String> r : t.rows()) {
                        sb.append("<tr>");
                        for (String c : r) sb.append("<td>").append(inline(c)).append("</td>");
                        sb.append("</tr>\n");
                    }
                    sb.append("</table>\n");
                }
            } else if (b instanceof Fig g) {
                sb.append("<figure>\n")
                        .append(g.f().svg())
                        .append("<figcaption>")
                        .append(inline(g.caption()))
                        .append(" (")
                        .append(Svg.esc(g.f().file()))
                        .append(")</figcaption>\n</figure>\n");
            }
        }
        return sb.append("</body>\n</html>\n").toString();
    }

    /** Escapes, then turns **x** into bold. */
    private static String inline(String s) {
        return Svg.esc(s).replaceAll("\\*\\*(.+?)\\*\\*", "<b>$1</b>");
    }
}
