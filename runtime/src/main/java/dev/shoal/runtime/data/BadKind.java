// The kinds of input records that `shoal prepare` skips; each is counted and reported, never fatal.
package dev.shoal.runtime.data;

import java.util.Locale;

/** Why a record was skipped. */
public enum BadKind {
    /** The record's bytes are not valid UTF-8. */
    INVALID_UTF8,
    /** A JSONL line that is not one well-formed JSON object. */
    INVALID_JSON,
    /** A JSON object without the configured text field (or with null there). */
    MISSING_FIELD,
    /** The text field holds a number, object, array or boolean instead of a string. */
    FIELD_NOT_STRING,
    /** A JSON string with an unpaired UTF-16 surrogate escape such as "\ud800". */
    LONE_SURROGATE,
    /** The text is empty or only whitespace (after removing escape sequences). */
    EMPTY_TEXT;

    /** The kebab-case name used in the manifest and the report, e.g. {@code invalid-json}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
