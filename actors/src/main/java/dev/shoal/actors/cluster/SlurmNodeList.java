// Expands a Slurm host list (the syntax of SLURM_JOB_NODELIST) into host names, in Slurm's order.
//
// Grammar: entries separated by top-level commas; an entry is literal text with zero or more
// bracket groups, e.g. "gpu[01-04,07]", "rack[1-2]-gpu[1-2]", "login1". A group holds numbers and
// ranges "a-b" (a <= b); the width of the lower bound sets the zero padding ("01-04" -> 01..04).
// Several groups in one entry expand as a product, leftmost group slowest.
//
// Guarantees: the result is non-empty, has no duplicates, and keeps first-occurrence order;
// malformed input throws IllegalArgumentException naming the text and the character position.
package dev.shoal.actors.cluster;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

public final class SlurmNodeList {

    /** The most hosts one list may expand to; guards against typos like "n[1-999999999]". */
    public static final int MAX_HOSTS = 100_000;

    private SlurmNodeList() {}

    /** Expands {@code list}; the first host is the one Slurm lists first (Shoal's seed). */
    public static List<String> expand(String list) {
        if (list == null || list.isBlank()) {
            throw new IllegalArgumentException("Slurm node list is empty");
        }
        String text = list.strip();
        LinkedHashSet<String> hosts = new LinkedHashSet<>();
        int entryStart = 0;
        int depth = 0;
        for (int i = 0; i <= text.length(); i++) {
            char c = i < text.length() ? text.charAt(i) : ',';
            if (c == '[') {
                if (depth > 0) throw error(text, i, "nested '['");
                depth++;
            } else if (c == ']') {
                if (depth == 0) throw error(text, i, "']' without '['");
                depth--;
            } else if (c == ',' && depth == 0) {
                expandEntry(text, entryStart, i, hosts);
                entryStart = i + 1;
            }
        }
        if (depth > 0) throw error(text, text.length(), "unclosed '['");
        return List.copyOf(hosts);
    }

    /** Expands text[from, to) into {@code out}. */
    private static void expandEntry(String text, int from, int to, LinkedHashSet<String> out) {
        String entry = text.substring(from, to).strip();
        if (entry.isEmpty()) throw error(text, from, "empty host entry");
        List<String> prefixes = new ArrayList<>(List.of(""));
        int i = from;
        while (i < to) {
            char c = text.charAt(i);
            if (c == '[') {
                int close = text.indexOf(']', i);
                List<String> values = expandGroup(text, i + 1, close);
                List<String> next = new ArrayList<>(prefixes.size() * values.size());
                for (String p : prefixes) {
                    for (String v : values) next.add(p + v);
                }
                if (next.size() > MAX_HOSTS) {
                    throw error(text, i, "expands to more than " + MAX_HOSTS + " hosts");
                }
                prefixes = next;
                i = close + 1;
            } else {
                if (Character.isWhitespace(c)) {
                    if (text.substring(i, to).isBlank()
                            || text.substring(from, i).isBlank()) {
                        i++;
                        continue;
                    }
                    throw error(text, i, "whitespace inside a host name");
                }
                for (int k = 0; k < prefixes.size(); k++) prefixes.set(k, prefixes.get(k) + c);
                i++;
            }
        }
        for (String h : prefixes) {
            out.add(h);
            if (out.size() > MAX_HOSTS) throw error(text, from, "expands to more than " + MAX_HOSTS + " hosts");
        }
    }

    /** Expands the inside of one bracket group text(from, to), e.g. "01-04,07". */
    private static List<String> expandGroup(String text, int from, int to) {
        List<String> values = new ArrayList<>();
        int partStart = from;
        for (int i = from; i <= to; i++) {
            if (i == to || text.charAt(i) == ',') {
                String part = text.substring(partStart, i);
                if (part.isEmpty()) throw error(text, partStart, "empty range in brackets");
                int dash = part.indexOf('-');
                String lo = dash < 0 ? part : part.substring(0, dash);
                String hi = dash < 0 ? part : part.substring(dash + 1);
                long a = number(text, partStart, lo);
                long b = number(text, partStart + dash + 1, hi);
                if (b < a) throw error(text, partStart, "descending range " + part);
                if (b - a >= MAX_HOSTS) throw error(text, partStart, "range " + part + " is too large");
                int width = lo.length();
                for (long v = a; v <= b; v++) {
                    values.add(pad(v, width));
                }
                partStart = i + 1;
            }
        }
        return values;
    }

    private static long number(String text, int at, String digits) {
        if (digits.isEmpty() || digits.length() > 18 || !digits.chars().allMatch(Character::isDigit)) {
            throw error(text, at, "'" + digits + "' is not a number");
        }
        return Long.parseLong(digits);
    }

    private static String pad(long v, int width) {
        String s = Long.toString(v);
        return s.length() >= width ? s : "0".repeat(width - s.length()) + s;
    }

    private static IllegalArgumentException error(String text, int position, String what) {
        return new IllegalArgumentException(
                "bad Slurm node list \"" + text + "\" at character " + (position + 1) + ": " + what);
    }
}
