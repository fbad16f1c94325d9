package dev.shoal.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class LlamaConfigTest {

    @Test
    void llama3_8bHas8_03BillionParameters() {
        LlamaConfig c = LlamaConfig.preset("llama3-8b");
        // Meta's Llama-3-8B: 8,030,261,248 parameters (HF model card rounds to 8.03B).
        assertEquals(8_030_261_248L, c.paramCount());
        assertEquals(128, c.headDim());
        assertEquals(1024, c.kvDim());
    }

    @Test
    void llama3_70bHas70_55BillionParameters() {
        LlamaConfig c = LlamaConfig.preset("llama3-70b");
        assertEquals(70_553_706_496L, c.paramCount());
        assertEquals(8, c.groupSize());
    }

    @Test
    void invalidShapesNameTheFields() {
        var e = assertThrows(
                IllegalArgumentException.class,
                () -> new LlamaConfig("x", 2, 64, 4, 3, 128, 100, 1e-5, 5e5, Optional.empty(), 64));
        assertEquals("model 'x': kv_heads 3 must divide heads 4 for grouped-query attention", e.getMessage());
        var u = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.preset("llama2"));
        assertTrue(u.getMessage().contains("known models: [llama3-70b, llama3-8b, small, tiny]"), u.getMessage());
    }
}
