// Prints the samples of Gpt2Samples.java: GPT-2 token ids made by the JavaScript encoder of the
// npm package gpt-3-encoder 1.1.4 (an implementation independent of ours).
// Usage: npm pack gpt-3-encoder@1.1.4 && tar xzf gpt-3-encoder-1.1.4.tgz
//        node expected-ids.js package
const { encode } = require(require('path').resolve(process.argv[2], 'Encoder.js'));
const samples = [
  "Hello world",
  "The quick brown fox jumps over the lazy dog.",
  "It's a dog's life, isn't it? We'll see; they'd've said I'm fine, you're right.",
  "DON'T SHOUT, IT'S LOUD",
  "Numbers: 3.14159, 1,000,000 and 2024-01-01 (year 2024), 12345678901234567890.",
  "Punctuation runs!!! ... ?!?! --- *** <<>> \"quoted\" (parens) [x] {y}",
  "#hash @at $100 50% a&b ~^ x_y",
  "Café crème brûlée, naïve façade, Ærøskøbing, Straße",
  "日本語のテキストと中文文本",
  "Ελληνικά и русский текст",
  "안녕하세요 مرحبا नमस्ते",
  "Emoji: 😀👍🏽 🇫🇷 ❤️ family 👨‍👩‍👧",
  "double  spaces   and    more",
  "tabs\tand\t\ttabs",
  "line one\nline two\n\nline four\r\nwindows",
  "trailing spaces   ",
  "   leading spaces",
  " \n \t mixed whitespace \u00a0 nbsp",
  "no-break\u00a0! space \u00a0x, em\u2003\u2003space,",
  "ideographic\u3000space\u3000\u3000end",
  "x = f(y) + 2 * z; // code\n\tif (a != b) { return a_b; }",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "",
];
const javaString = s => '"' + Array.from(s).map(c => {
  const u = c.codePointAt(0);
  if (c === '"' || c === '\\') return '\\' + c;
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  if (u < 0x20 || (u >= 0x7f && u <= 0xa0) || (u >= 0x2000 && u <= 0x200d) || u === 0x3000) {
    return '\\u' + u.toString(16).padStart(4, '0');
  }
  return c;
}).join('') + '"';
const wrap = (ids, first, indent, width) => {
  const lines = [];
  let line = '';
  for (const id of ids.map(String)) {
    const start = lines.length ? indent.length : first;
    if (line && start + line.length + id.length + 2 > width) {
      lines.push(line.trimEnd());
      line = '';
    }
    line += id + ', ';
  }
  if (line) lines.push(line.replace(/, $/, ''));
  return lines.join('\n' + indent);
};
for (const s of samples) {
  const ids = encode(s);
  console.log(`      new Sample(${javaString(s)},`);
  console.log(`          new int[] {${wrap(ids, 21, '            ', 100)}}),`);
}
