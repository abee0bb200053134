//! The built-in generator. (Placeholder on this branch; the real template
//! arrives with the generator work.)

use async_trait::async_trait;

use super::{GenerateError, Generated, GeneratedFile, Generator, SiteRequest};

#[derive(Debug, Clone, Default)]
pub struct BuiltinGenerator;

#[async_trait]
impl Generator for BuiltinGenerator {
    fn name(&self) -> String {
        "builtin".to_owned()
    }

    async fn generate(&self, request: &SiteRequest) -> Result<Generated, GenerateError> {
        let escaped = request.brief.replace('&', "&amp;").replace('<', "&lt;");
        Ok(Generated {
            files: vec![GeneratedFile {
                path: "index.html".into(),
                content: format!(
                    "<!DOCTYPE html><html><head><title>Site</title></head><body><p>{escaped}</p></body></html>"
                ),
            }],
            raw_output: None,
            generator: self.name(),
        })
    }

    async fn repair(
        &self,
        request: &SiteRequest,
        _: &[GeneratedFile],
        _: &[String],
    ) -> Result<Generated, GenerateError> {
        self.generate(request).await
    }
}
