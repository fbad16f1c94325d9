// Removes terminal escape sequences (ANSI/ECMA-48) from text, counting them. Debian's fortunes-zh colours
// its poems with them; they are markup, not language, and must not reach the tokenizer.
package dev.shoal.runtime.data;

/** Stateless; {@link #strip} returns the cleaned text and the number of sequences removed. */
public final class AnsiStripper {

    private AnsiStripper() {}

    /** The cleaned text and how many escape sequences were removed from it. */
    public record Result(String text, int sequences) {}

    /**
     * Removes: CSI {@code ESC [ params intermediates final} (colours, cursor moves), OSC {@code ESC ] ...
     * (BEL | ESC \)}, DCS/SOS/PM/APC strings ({@code ESC P|X|^|_ ... ESC \}), two- and three-byte escapes
     * ({@code ESC (B}, {@code ESC c}), the 8-bit CSI U+009B form, and a dangling lone ESC.
     */
    public static Result strip(String s) {
        int first = firstEscape(s, 0);
        if (first < 0) return new Result(s, 0);
        StringBuilder b = new StringBuilder(s.length());
        int count = 0;
        int i = 0;
        int n = s.length();
        while (true) {
            int esc = firstEscape(s, i);
            if (esc < 0) {
                b.append(s, i, n);
                break;
            }
            b.append(s, i, esc);
            count++;
            i = skipSequence(s, esc);
        }
        return new Result(b.toString(), count);
    }

    private static int firstEscape(String s, int from) {
        for (int i = from, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c == 0x1B || c == 0x9B) return i;
        }
        return -1;
    }

    /** Index just past the escape sequence starting at {@code at}. */
    private static int skipSequence(String s, int at) {
        int n = s.length();
        if (s.charAt(at) == 0x9B) return skipCsiBody(s, at + 1);
        int i = at + 1;
        if (i >= n) return n; // lone ESC at the end
        char c = s.charAt(i);
        switch (c) {
            case '[':
                return skipCsiBody(s, i + 1);
            case ']':
            case 'P':
            case 'X':
            case '^':
            case '_':
                return skipString(s, i + 1, c == ']');
            default:
                break;
        }
        // nF escapes: intermediates 0x20-0x2F then a final 0x30-0x7E; Fp/Fe/Fs: one final byte.
        while (i < n && s.charAt(i) >= 0x20 && s.charAt(i) <= 0x2F) i++;
        if (i < n && s.charAt(i) >= 0x30 && s.charAt(i) <= 0x7E) return i + 1;
        return i; // malformed: drop just the ESC (and any intermediates)
    }

    private static int skipCsiBody(String s, int i) {
        int n = s.length();
        while (i < n && s.charAt(i) >= 0x30 && s.charAt(i) <= 0x3F) i++; // parameters
        while (i < n && s.charAt(i) >= 0x20 && s.charAt(i) <= 0x2F) i++; // intermediates
        if (i < n && s.charAt(i) >= 0x40 && s.charAt(i) <= 0x7E) return i + 1; // final byte
        return i; // truncated sequence: drop what was read
    }

    private static int skipString(String s, int i, boolean belEnds) {
        int n = s.length();
        while (i < n) {
            char c = s.charAt(i);
            if (belEnds && c == 0x07) return i + 1;
            if (c == 0x1B && i + 1 < n && s.charAt(i + 1) == '\\') return i + 2;
            if (c == 0x9C) return i + 1;
            i++;
        }
        return n;
    }
}
