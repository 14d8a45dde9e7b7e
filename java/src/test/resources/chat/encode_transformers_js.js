// Token ids of texts under transformers.js (@lenml/tokenizers), as apply_chat_template
// tokenizes a rendered chat: no special tokens added. argv[2]: a directory with tokenizer.json
// and tokenizer_config.json; stdin: a JSON list of texts; stdout: a JSON list of id lists.
const fs = require("fs");
const path = require("path");
const { TokenizerLoader } = require("@lenml/tokenizers");
const dir = process.argv[2];
const read = (f) => JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
const tokenizer = TokenizerLoader.fromPreTrained({
  tokenizerJSON: read("tokenizer.json"),
  tokenizerConfig: read("tokenizer_config.json"),
});
const texts = JSON.parse(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(texts.map((t) => tokenizer.encode(t, { add_special_tokens: false }))));
