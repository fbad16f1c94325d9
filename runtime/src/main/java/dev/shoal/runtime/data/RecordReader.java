// Turns the bytes of one input record into the document text, or into the reason it is skipped. Not
// thread-safe (it reuses a decoder): use one per worker thread.
package dev.shoal.runtime.data;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/** Decodes records of one format; ANSI escape sequences are removed and counted when asked. */
public final class RecordReader {

    private static final JsonFactory JSON = new JsonFactory();

    private final DocFormat format;
    private final String textField;
    private final boolean stripAnsi;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    /** The outcome for one record: exactly one of {@code text} and {@code bad} is non-null. */
    public record Outcome(String text, BadKind bad, int ansiSequences) {}

    public RecordReader(DocFormat format, String textField, boolean stripAnsi) {
        this.format = format;
        this.textField = textField;
        this.stripAnsi = stripAnsi;
    }

    public Outcome read(byte[] buf, int start, int end) {
        String raw;
        try {
            raw = utf8.decode(ByteBuffer.wrap(buf, start, end - start)).toString();
        } catch (CharacterCodingException e) {
            return new Outcome(null, BadKind.INVALID_UTF8, 0);
        }
        String text = raw;
        if (format == DocFormat.JSONL) {
            Object t = jsonText(raw);
            if (t instanceof BadKind k) return new Outcome(null, k, 0);
            text = (String) t;
            if (hasLoneSurrogate(text)) return new Outcome(null, BadKind.LONE_SURROGATE, 0);
        }
        int ansi = 0;
        if (stripAnsi) {
            AnsiStripper.Result r = AnsiStripper.strip(text);
            text = r.text();
            ansi = r.sequences();
        }
        if (text.isBlank()) return new Outcome(null, BadKind.EMPTY_TEXT, ansi);
        return new Outcome(text, null, ansi);
    }

    /** The field's string, or the BadKind explaining why there is none. */
    private Object jsonText(String line) {
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) return BadKind.INVALID_JSON;
            String found = null;
            BadKind problem = BadKind.MISSING_FIELD;
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (name.equals(textField)) {
                    if (v == JsonToken.VALUE_STRING) {
                        found = p.getText();
                    } else if (v == JsonToken.VALUE_NULL) {
                        problem = BadKind.MISSING_FIELD;
                    } else {
                        problem = BadKind.FIELD_NOT_STRING;
                        p.skipChildren();
                    }
                } else {
                    p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) return BadKind.INVALID_JSON;
            if (p.nextToken() != null) return BadKind.INVALID_JSON; // trailing content after the object
            return found != null ? found : problem;
        } catch (IOException e) {
            return BadKind.INVALID_JSON;
        }
    }

    static boolean hasLoneSurrogate(String s) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return true;
            }
        }
        return false;
    }
}
