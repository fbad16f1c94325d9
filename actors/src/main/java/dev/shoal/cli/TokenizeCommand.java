// `shoal tokenize`: prints the Llama-3 token ids of a text exactly as given (no trimming, no BOS/EOS
// unless asked). Bad input (missing file, malformed tokenizer, invalid UTF-8) is a one-line usage error.
package dev.shoal.cli;

import dev.shoal.runtime.tokenizer.Llama3Tokenizer;
import dev.shoal.runtime.tokenizer.TiktokenRanks;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Set;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "tokenize",
        mixinStandardHelpOptions = true,
        description = {
            "Prints the Llama-3 token ids of a text, exactly as given: no trimming, no BOS/EOS unless asked.",
            "Special-token strings such as <|eot_id|> are ordinary text unless --allow-special is given."
        })
public final class TokenizeCommand implements Callable<Integer> {

    @Option(
            names = "--tokenizer",
            required = true,
            paramLabel = "FILE",
            description = "tiktoken rank file (Llama-3 tokenizer.model).")
    Path tokenizer;

    @CommandLine.ArgGroup(multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", paramLabel = "STR", description = "The text to encode.")
        String text;

        @Option(names = "--file", paramLabel = "F", description = "A UTF-8 file whose whole content is encoded.")
        Path file;
    }

    @Option(names = "--bos", description = "Prepend <|begin_of_text|>.")
    boolean bos;

    @Option(names = "--eos", description = "Append <|end_of_text|>.")
    boolean eos;

    @Option(names = "--allow-special", description = "Encode special-token strings in the text as their ids.")
    boolean allowSpecial;

    @Option(names = "--json", description = "Print a JSON array of ints instead of space-separated ids.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Llama3Tokenizer tok;
        try {
            tok = Llama3Tokenizer.load(tokenizer);
        } catch (TiktokenRanks.FormatException e) {
            throw new ShoalCli.UserError(e.getMessage());
        } catch (IOException e) {
            throw new ShoalCli.UserError("cannot read tokenizer " + tokenizer + ": " + e);
        }
        String text = input.text != null ? input.text : readUtf8(input.file);
        Set<String> allowed = allowSpecial ? tok.specials().keySet() : Set.of();
        int[] ids = tok.encode(text, allowed, bos, eos);
        StringJoiner j = json ? new StringJoiner(",", "[", "]") : new StringJoiner(" ");
        for (int id : ids) j.add(Integer.toString(id));
        ShoalCli.printTo(spec.commandLine().getOut(), j.toString());
        return 0;
    }

    static String readUtf8(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new ShoalCli.UserError("file " + file + " does not exist");
        } catch (IOException e) {
            throw new ShoalCli.UserError("cannot read " + file + ": " + e.getMessage());
        }
        try {
            return StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new ShoalCli.UserError("file " + file + " is not valid UTF-8");
        }
    }
}
