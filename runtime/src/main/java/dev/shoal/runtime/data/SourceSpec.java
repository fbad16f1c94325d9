// One named input source for `shoal prepare`: its language tag, format, files, JSON text field and the
// held-out validation fraction. Validates itself and names the offending value.
package dev.shoal.runtime.data;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * @param name source name, [A-Za-z0-9._-]+, unique within a dataset (also its folder name)
 * @param lang language tag, e.g. {@code en}, {@code zh}
 * @param validFraction share of documents held out for validation, in [0, 1)
 */
public record SourceSpec(
        String name, String lang, DocFormat format, List<Path> inputs, String textField, double validFraction) {

    public SourceSpec {
        if (name == null || !name.matches("[A-Za-z0-9._-]+") || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException("source name '" + name + "' must match [A-Za-z0-9._-]+");
        }
        if (lang == null || !lang.matches("[A-Za-z0-9_-]+")) {
            throw new IllegalArgumentException(
                    "source " + name + ": language tag '" + lang + "' must match [A-Za-z0-9_-]+");
        }
        if (inputs == null || inputs.isEmpty()) {
            throw new IllegalArgumentException("source " + name + ": no input files");
        }
        inputs = List.copyOf(inputs);
        for (Path p : inputs) {
            if (!Files.isRegularFile(p)) {
                throw new IllegalArgumentException(
                        "source " + name + ": input " + p + " does not exist or is not a file");
            }
        }
        if (textField == null || textField.isEmpty()) textField = "text";
        if (!(validFraction >= 0 && validFraction < 1)) {
            throw new IllegalArgumentException(
                    "source " + name + ": validation fraction " + validFraction + " must be in [0, 1)");
        }
    }

    /**
     * Whether a document goes to the validation split: a pure function of its text (FNV-1a 64 over the
     * UTF-16 chars, then a SplitMix64 finaliser), so the split does not depend on file order or chunking.
     */
    public static boolean isValidation(String text, double validFraction) {
        if (validFraction <= 0) return false;
        return (docHash(text) >>> 11) < (long) (validFraction * (1L << 53));
    }

    /** 64-bit document hash (see {@link #isValidation}). */
    public static long docHash(String text) {
        long h = 0xcbf29ce484222325L;
        for (int i = 0, n = text.length(); i < n; i++) {
            h ^= text.charAt(i);
            h *= 0x100000001b3L;
        }
        h ^= h >>> 30;
        h *= 0xbf58476d1ce4e5b9L;
        h ^= h >>> 27;
        h *= 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return h;
    }
}
