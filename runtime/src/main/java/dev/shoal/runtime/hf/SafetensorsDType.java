// The element types Shoal reads and writes in safetensors files, with their on-disk names and sizes.
// Guarantees: every other safetensors dtype is refused by name (fromName), never misread.
package dev.shoal.runtime.hf;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

public enum SafetensorsDType {
    F32(4),
    BF16(2),
    F16(2);

    /** Bytes per element on disk. */
    public final int bytes;

    SafetensorsDType(int bytes) {
        this.bytes = bytes;
    }

    /** dtypes the safetensors format defines that Shoal deliberately does not read. */
    private static final Set<String> KNOWN_UNSUPPORTED = Set.of(
            "BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F64", "F8_E4M3", "F8_E5M2", "F8_E8M0",
            "F6_E2M3", "F6_E3M2", "F4", "C64");

    public static List<String> supportedNames() {
        return Arrays.stream(values()).map(Enum::name).toList();
    }

    /**
     * The dtype for an on-disk name; an unknown or unsupported name is an error naming it, the
     * tensor and the file.
     */
    public static SafetensorsDType fromName(String name, String tensor, Object file) throws HfFormatException {
        for (SafetensorsDType d : values()) {
            if (d.name().equals(name)) return d;
        }
        String why = KNOWN_UNSUPPORTED.contains(name) ? "is not supported" : "is not a safetensors dtype";
        throw new HfFormatException(file + ": tensor '" + tensor + "' has dtype '" + name + "', which " + why
                + "; Shoal reads " + supportedNames());
    }

    /** The dtype for a user-facing name: f32/float32, bf16/bfloat16, f16/fp16/float16. */
    public static SafetensorsDType parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "fp32", "float32" -> F32;
            case "bf16", "bfloat16" -> BF16;
            case "f16", "fp16", "float16", "half" -> F16;
            default -> throw new IllegalArgumentException("unknown dtype '" + s + "'; use one of f32, bf16, f16");
        };
    }

    /** The name HF uses for this dtype in config.json's torch_dtype. */
    public String torchName() {
        return switch (this) {
            case F32 -> "float32";
            case BF16 -> "bfloat16";
            case F16 -> "float16";
        };
    }
}
