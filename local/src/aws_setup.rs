//! Creates the table the way the SAM template does, for moto and for a runner pointed at a
//! fresh emulator. In AWS the template owns the table; nothing here runs there.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType,
};

type BuildResult<T> = Result<T, aws_sdk_dynamodb::error::BuildError>;

fn key(name: &str, kind: KeyType) -> BuildResult<KeySchemaElement> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build()
}

fn attribute(name: &str) -> BuildResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
}

/// Creates the table (`pk`/`sk`, indexes `gsi1` and `gsi2`, a stream of new images) unless it
/// exists.
pub async fn ensure_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    if client.describe_table().table_name(table).send().await.is_ok() {
        return Ok(());
    }
    let index = |n: u8| {
        GlobalSecondaryIndex::builder()
            .index_name(format!("gsi{n}"))
            .key_schema(key(&format!("gsi{n}pk"), KeyType::Hash)?)
            .key_schema(key(&format!("gsi{n}sk"), KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .attribute_definitions(attribute("gsi1pk")?)
        .attribute_definitions(attribute("gsi1sk")?)
        .attribute_definitions(attribute("gsi2pk")?)
        .attribute_definitions(attribute("gsi2sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index(1)?)
        .global_secondary_indexes(index(2)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}
