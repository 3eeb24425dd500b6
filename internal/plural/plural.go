// Package plural writes counts of things in English: "1 file", "2 files",
// "1 run directory", "3 run directories", "1 GPU", "2 GPUs". Every message
// that counts goes through it, so that none says "1 files".
package plural

import (
	"fmt"
	"strconv"
	"strings"
)

// Count is n and noun, the noun in the plural unless n is 1 (or -1).
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Noun(n, noun)
}

// Phrase is n and one of two phrases, for what the rules cannot make:
// Phrase(n, "instance at a higher rung waits", "instances at higher rungs
// wait").
func Phrase(n int, one, many string) string {
	if n == 1 || n == -1 {
		return strconv.Itoa(n) + " " + one
	}
	return strconv.Itoa(n) + " " + many
}

// Noun is noun in the plural unless n is 1 (or -1). Only the last word
// of noun changes ("run directory", "run directories").
func Noun(n int, noun string) string {
	if n == 1 || n == -1 {
		return noun
	}
	return Of(noun)
}

// Of is the plural of noun, by the rules of English spelling that
// trainrun's nouns need: "directory" → "directories", "process" →
// "processes", "GPU" → "GPUs", "file" → "files".
func Of(noun string) string {
	i := strings.LastIndexByte(noun, ' ') + 1
	head, word := noun[:i], noun[i:]
	if p, ok := irregular[strings.ToLower(word)]; ok {
		return head + p
	}
	lower := strings.ToLower(word)
	switch {
	case word == "":
		return noun
	case word == strings.ToUpper(word) && len(word) > 1: // GPU, CPU: never -ES
		return noun + "s"
	case strings.HasSuffix(lower, "y") && len(lower) > 1 && !strings.ContainsRune("aeiou", rune(lower[len(lower)-2])):
		return head + word[:len(word)-1] + "ies"
	case strings.HasSuffix(lower, "s"), strings.HasSuffix(lower, "x"), strings.HasSuffix(lower, "z"),
		strings.HasSuffix(lower, "ch"), strings.HasSuffix(lower, "sh"):
		return noun + "es"
	}
	return noun + "s"
}

// irregular are the plurals the rules get wrong.
var irregular = map[string]string{
	"child": "children",
	"was":   "were",
	"is":    "are",
	"has":   "have",
}

// Bytes is a size in decimal units, as du -h --si and most tools print
// them: "1 byte", "999 bytes", "12 kB", "3.4 MB", "340 MB", "1.2 GB".
func Bytes(n int64) string {
	const unit = 1000
	if n < unit && n > -unit {
		return Count(int(n), "byte")
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit || m <= -unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	prefix := "kMGTPE"[exp]
	if v >= 100 || v <= -100 {
		return fmt.Sprintf("%.0f %cB", v, prefix)
	}
	return fmt.Sprintf("%.1f %cB", v, prefix)
}
