// How a source file is cut into documents, and where a file may be cut into independent chunks (always
// on a document boundary, so chunks can be tokenized in parallel and give the same documents as a
// sequential read).
package dev.shoal.runtime.data;

import java.util.List;
import java.util.Locale;

/** Input formats of {@code shoal prepare}. */
public enum DocFormat {
    /** One JSON object per line; the text is one string field (default {@code text}). Blank lines are skipped. */
    JSONL,
    /** Plain UTF-8 text; documents are paragraphs separated by one or more empty lines. */
    TEXT,
    /** A fortune file: entries separated by lines holding a single {@code %}. */
    FORTUNE;

    /** Parses {@code jsonl|text|fortune}, case-insensitively. */
    public static DocFormat parse(String s) {
        try {
            return valueOf(s.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("unknown format '" + s + "' (expected jsonl, text or fortune)");
        }
    }

    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The first position {@code p >= from} (within {@code [0, len)}) just after a document separator,
     * or -1 if there is none in {@code buf[from, len)}. Chunks are cut only at such positions.
     */
    public int nextCut(byte[] buf, int from, int len) {
        switch (this) {
            case JSONL:
                for (int i = from; i < len; i++) if (buf[i] == '\n') return i + 1;
                return -1;
            case TEXT:
                for (int i = Math.max(from, 1); i < len; i++) {
                    boolean blankLine = buf[i - 1] == '\n' || buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n';
                    if (buf[i] == '\n' && blankLine) return i + 1;
                }
                return -1;
            case FORTUNE:
                for (int i = Math.max(from, 1); i + 1 < len; i++) {
                    if (buf[i] == '%' && buf[i - 1] == '\n' && buf[i + 1] == '\n') return i + 2;
                }
                return -1;
            default:
                throw new AssertionError(this);
        }
    }

    /** Byte ranges {@code [start, end)} of the records in {@code buf[0, len)}, in order. */
    public void records(byte[] buf, int len, List<int[]> out) {
        switch (this) {
            case JSONL: {
                int start = 0;
                for (int i = 0; i <= len; i++) {
                    if (i == len || buf[i] == '\n') {
                        int end = (i > start && buf[i - 1] == '\r') ? i - 1 : i;
                        if (!isBlank(buf, start, end)) out.add(new int[] {start, end});
                        start = i + 1;
                    }
                }
                return;
            }
            case TEXT: {
                // paragraphs: maximal runs of lines that are not empty
                int lineStart = 0;
                int paraStart = -1;
                int paraEnd = -1;
                for (int i = 0; i <= len; i++) {
                    if (i == len || buf[i] == '\n') {
                        int end = (i > lineStart && buf[i - 1] == '\r') ? i - 1 : i;
                        if (end == lineStart) { // empty line ends a paragraph
                            if (paraStart >= 0) out.add(new int[] {paraStart, paraEnd});
                            paraStart = -1;
                        } else {
                            if (paraStart < 0) paraStart = lineStart;
                            paraEnd = end;
                        }
                        lineStart = i + 1;
                    }
                }
                if (paraStart >= 0) out.add(new int[] {paraStart, paraEnd});
                return;
            }
            case FORTUNE: {
                // entries: text between "%" lines; the newline before a "%" line belongs to the separator
                int start = 0;
                int lineStart = 0;
                for (int i = 0; i <= len; i++) {
                    if (i == len || buf[i] == '\n') {
                        boolean sep = i - lineStart == 1 && buf[lineStart] == '%'
                                || i - lineStart == 2 && buf[lineStart] == '%' && buf[lineStart + 1] == '\r';
                        if (sep) {
                            out.add(new int[] {start, Math.max(start, lineStart - 1)});
                            start = i + 1;
                        } else if (i == len && start < len) {
                            int end = len > start && buf[len - 1] == '\n' ? len - 1 : len;
                            out.add(new int[] {start, end});
                        }
                        lineStart = i + 1;
                    }
                }
                return;
            }
            default:
                throw new AssertionError(this);
        }
    }

    private static boolean isBlank(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            byte c = b[i];
            if (c != ' ' && c != '\t' && c != '\r') return false;
        }
        return true;
    }
}
