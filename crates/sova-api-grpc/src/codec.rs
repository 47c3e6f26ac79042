//! A tonic codec for dynamic messages: decodes with the RPC's request descriptor and
//! encodes whatever message it is given, so one codec type serves every RPC.

use prost::Message;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Encodes replies and decodes requests of the message type `request`.
#[derive(Clone)]
pub struct DynCodec {
    request: MessageDescriptor,
}

impl DynCodec {
    /// A codec decoding `request` messages.
    pub fn new(request: MessageDescriptor) -> DynCodec {
        DynCodec { request }
    }
}

/// The encoding half.
pub struct DynEncoder;

/// The decoding half.
pub struct DynDecoder(MessageDescriptor);

impl Codec for DynCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynEncoder;
    type Decoder = DynDecoder;

    fn encoder(&mut self) -> DynEncoder {
        DynEncoder
    }
    fn decoder(&mut self) -> DynDecoder {
        DynDecoder(self.request.clone())
    }
}

impl Encoder for DynEncoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: DynamicMessage, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("cannot encode the reply: {e}")))
    }
}

impl Decoder for DynDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| Status::invalid_argument(format!("malformed request message: {e}")))
    }
}
