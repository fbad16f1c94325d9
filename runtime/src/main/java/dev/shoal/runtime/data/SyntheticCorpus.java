// A small deterministic generator of English-like and Chinese-like documents, used by the demo, tests
// and benchmarks when Debian's fortune files are absent. Sentences are built from templates over word
// lists written for this project; the same (seed, index) always gives the same document.
package dev.shoal.runtime.data;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/** Stateless; every method is a pure function of its arguments. */
public final class SyntheticCorpus {

    private SyntheticCorpus() {}

    private static final String[] EN_SUBJECT = {
        "the old sailor", "a quiet student", "my neighbour", "the river", "every engineer", "a small robot",
        "the night train", "our teacher", "the tired farmer", "a curious child", "the city council", "the baker"
    };
    private static final String[] EN_VERB = {
        "remembers",
        "paints",
        "carries",
        "questions",
        "follows",
        "repairs",
        "forgets",
        "describes",
        "measures",
        "collects",
        "watches",
        "explains"
    };
    private static final String[] EN_OBJECT = {
        "the broken clock", "a map of the coast", "seven green apples", "the long letter", "an unfinished song",
        "the winter garden", "a box of old photographs", "the first snow", "every small mistake", "the last bus home"
    };
    private static final String[] EN_TAIL = {
        "before sunrise", "with great care", "for no clear reason", "in the market square", "while it rains",
        "after a long day", "without a word", "near the harbour", "as the bells ring", "every second Tuesday"
    };
    private static final String[] EN_LINK = {"Then", "Later", "Meanwhile", "Still", "Of course", "In the end"};

    private static final String[] ZH_SUBJECT = {
        "老船长", "一位学生", "我的邻居", "这条小河", "每个工程师", "小机器人", "夜班火车", "我们的老师", "农夫", "好奇的孩子", "面包师", "图书管理员"
    };
    private static final String[] ZH_VERB = {"记得", "画下", "带着", "询问", "跟随", "修理", "忘记", "描述", "测量", "收集", "看着", "解释"};
    private static final String[] ZH_OBJECT = {
        "那只旧钟", "海岸的地图", "七个青苹果", "一封长信", "没唱完的歌", "冬天的花园", "一盒老照片", "第一场雪", "每一个小错误", "末班车"
    };
    private static final String[] ZH_TAIL = {"在日出之前", "非常仔细地", "在集市上", "趁着下雨", "忙了一整天以后", "一句话也不说", "在港口附近", "当钟声响起"};
    private static final String[] ZH_LINK = {"后来", "与此同时", "当然", "最后", "于是", "可是"};

    /** English-like document {@code index} of the stream seeded by {@code seed}: 1-4 paragraphs. */
    public static String english(long seed, long index) {
        SplittableRandom r = rng(seed, index, 0x656e);
        StringBuilder b = new StringBuilder();
        int paras = 1 + r.nextInt(4);
        for (int p = 0; p < paras; p++) {
            if (p > 0) b.append('\n');
            int sentences = 2 + r.nextInt(5);
            for (int s = 0; s < sentences; s++) {
                if (s > 0) b.append(' ');
                String subject = pick(r, EN_SUBJECT);
                if (s > 0 && r.nextInt(3) == 0) {
                    b.append(pick(r, EN_LINK)).append(", ").append(subject);
                } else {
                    b.append(Character.toUpperCase(subject.charAt(0))).append(subject, 1, subject.length());
                }
                b.append(' ').append(pick(r, EN_VERB)).append(' ').append(pick(r, EN_OBJECT));
                if (r.nextBoolean()) b.append(' ').append(pick(r, EN_TAIL));
                if (r.nextInt(5) == 0)
                    b.append(", and it costs ").append(1 + r.nextInt(999)).append(" coins");
                b.append(r.nextInt(8) == 0 ? '?' : '.');
            }
        }
        return b.toString();
    }

    /** Chinese-like document {@code index} of the stream seeded by {@code seed}: 1-4 paragraphs. */
    public static String chinese(long seed, long index) {
        SplittableRandom r = rng(seed, index, 0x7a68);
        StringBuilder b = new StringBuilder();
        int paras = 1 + r.nextInt(4);
        for (int p = 0; p < paras; p++) {
            if (p > 0) b.append('\n');
            int sentences = 2 + r.nextInt(5);
            for (int s = 0; s < sentences; s++) {
                if (s > 0 && r.nextInt(3) == 0) b.append(pick(r, ZH_LINK)).append('，');
                b.append(pick(r, ZH_SUBJECT));
                if (r.nextBoolean()) b.append(pick(r, ZH_TAIL));
                b.append(pick(r, ZH_VERB)).append(pick(r, ZH_OBJECT));
                if (r.nextInt(5) == 0) b.append("，花了").append(1 + r.nextInt(99)).append("块钱");
                b.append(r.nextInt(8) == 0 ? '？' : '。');
            }
        }
        return b.toString();
    }

    /** Writes {@code docs} documents of {@code lang} ("en" or "zh") as JSONL with a {@code text} field. */
    public static void writeJsonl(Path file, String lang, long seed, int docs) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < docs; i++) {
                w.write("{\"id\":" + i + ",\"text\":\"" + jsonEscape(doc(lang, seed, i)) + "\"}\n");
            }
        }
    }

    /** Writes {@code docs} documents of {@code lang} as a fortune file (entries separated by "%" lines). */
    public static void writeFortune(Path file, String lang, long seed, int docs) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < docs; i++) {
                w.write(doc(lang, seed, i));
                w.write("\n%\n");
            }
        }
    }

    public static String doc(String lang, long seed, long index) {
        return switch (lang) {
            case "en" -> english(seed, index);
            case "zh" -> chinese(seed, index);
            default -> throw new IllegalArgumentException("synthetic corpus has 'en' and 'zh', not '" + lang + "'");
        };
    }

    private static SplittableRandom rng(long seed, long index, long salt) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index * 0xBF58476D1CE4E5B9L + salt);
    }

    private static String pick(SplittableRandom r, String[] words) {
        return words[r.nextInt(words.length)];
    }

    static String jsonEscape(String s) {
        StringBuilder b = new StringBuilder(s.length() + 8);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.toString();
    }
}
