// The one error type for malformed or mismatched Hugging Face checkpoint files. The message always
// names the file and, where there is one, the tensor or JSON key at fault, so it can be shown to a
// user as a single line.
package dev.shoal.runtime.hf;

import java.io.IOException;

public final class HfFormatException extends IOException {
    public HfFormatException(String message) {
        super(message);
    }

    public HfFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
