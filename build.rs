//! Embeds the output templates into the binary (minijinja-embed).
fn main() {
    minijinja_embed::embed_templates!("src/render/templates");
}
