//! Lets `jsonschema` validate the loader's [`Document`] in place.
//!
//! `jsonschema` is generic over the JSON representation it walks. Validating our node tree
//! directly, instead of converting each service to a `serde_json::Value` first, removes the
//! allocation of two million values on a 100,000-service registry.

use std::borrow::Cow;

use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use jsonschema::types::JsonType;
use serde_json::Value;

use crate::load::{Children, Document, NodeId, NodeKind};

/// The representation marker: validators built with `jsonschema::options_for::<DocumentJson>()`
/// accept [`TreeNode`]s.
pub(crate) struct DocumentJson;

/// One value of a document, or a bare string (a property name, for `propertyNames`).
#[derive(Clone, Copy)]
pub(crate) enum TreeNode<'a> {
    Tree {
        document: &'a Document<'a>,
        id: NodeId,
    },
    Name(&'a str),
}

impl<'a> TreeNode<'a> {
    pub(crate) fn new(document: &'a Document<'a>, id: NodeId) -> TreeNode<'a> {
        TreeNode::Tree { document, id }
    }

    fn kind(&self) -> Option<NodeKind> {
        match self {
            TreeNode::Tree { document, id } => Some(document.kind(*id)),
            TreeNode::Name(_) => None,
        }
    }
}

impl Json for DocumentJson {
    type Node<'a> = TreeNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    // Lookups scan the members, so a members pass is worth it even for a few lookups.
    const KEYS_PER_LOOKUP: usize = 8;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(TreeNode<'_>) -> T) -> T {
        f(TreeNode::Name(string))
    }
}

impl<'a> Node<'a, DocumentJson> for TreeNode<'a> {
    type Object = TreeObject<'a>;
    type Array = TreeArray<'a>;
    type Number = TreeNumber<'a>;

    fn as_object(&self) -> Option<TreeObject<'a>> {
        match *self {
            TreeNode::Tree { document, id } if document.kind(id) == NodeKind::Object => {
                Some(TreeObject { document, id })
            }
            _ => None,
        }
    }

    fn as_array(&self) -> Option<TreeArray<'a>> {
        match *self {
            TreeNode::Tree { document, id } if document.kind(id) == NodeKind::Array => {
                Some(TreeArray { document, id })
            }
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match *self {
            TreeNode::Tree { document, id } => document.str(id),
            TreeNode::Name(name) => Some(Cow::Borrowed(name)),
        }
    }

    fn as_number(&self) -> Option<TreeNumber<'a>> {
        match *self {
            TreeNode::Tree { document, id } if document.kind(id) == NodeKind::Number => {
                Some(TreeNumber(document.text(id)))
            }
            _ => None,
        }
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.kind() {
            Some(NodeKind::Bool(value)) => Some(value),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.kind() == Some(NodeKind::Null)
    }

    fn json_type(&self) -> JsonType {
        match self.kind() {
            None | Some(NodeKind::String) => JsonType::String,
            Some(NodeKind::Null) => JsonType::Null,
            Some(NodeKind::Bool(_)) => JsonType::Boolean,
            Some(NodeKind::Number) => JsonType::Number,
            Some(NodeKind::Array) => JsonType::Array,
            Some(NodeKind::Object) => JsonType::Object,
        }
    }

    // `enum` and `const` compare every service's authType and confidence: do it without
    // building a `Value`.
    fn equals_value(&self, expected: &Value) -> bool {
        match (self.kind(), expected) {
            (_, Value::String(text)) => self.as_string().is_some_and(|s| s == text.as_str()),
            (Some(NodeKind::Null), Value::Null) => true,
            (Some(NodeKind::Bool(value)), Value::Bool(other)) => value == *other,
            (Some(NodeKind::Number), Value::Number(_)) => {
                jsonschema::json::cmp::equal(&self.to_value(), expected)
            }
            (Some(NodeKind::Array | NodeKind::Object), Value::Array(_) | Value::Object(_)) => {
                jsonschema::json::cmp::equal(&self.to_value(), expected)
            }
            _ => false,
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        match *self {
            TreeNode::Tree { document, id } => Cow::Owned(document.to_value(id)),
            TreeNode::Name(name) => Cow::Owned(Value::String(name.to_owned())),
        }
    }

    fn identity(&self) -> Option<NodeIdentity> {
        match *self {
            TreeNode::Tree { document, id } => Some(NodeIdentity::tagged(
                std::ptr::from_ref(document) as usize,
                id,
            )),
            TreeNode::Name(_) => None,
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct TreeObject<'a> {
    document: &'a Document<'a>,
    id: NodeId,
}

pub(crate) struct Members<'a> {
    document: &'a Document<'a>,
    children: Children<'a, 'a>,
}

impl<'a> Iterator for Members<'a> {
    type Item = (Cow<'a, str>, TreeNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let child = self.children.next()?;
        let key = self.document.key(child).unwrap_or_default();
        Some((key, TreeNode::new(self.document, child)))
    }
}

impl<'a> Object<'a, DocumentJson> for TreeObject<'a> {
    type Node = TreeNode<'a>;
    type MemberName = Cow<'a, str>;
    type MembersIter = Members<'a>;

    fn len(&self) -> usize {
        self.document.children(self.id).count()
    }

    fn get(&self, key: &String) -> Option<TreeNode<'a>> {
        self.document
            .get(self.id, key)
            .map(|child| TreeNode::new(self.document, child))
    }

    fn members(&self) -> Members<'a> {
        Members {
            document: self.document,
            children: self.document.children(self.id),
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct TreeArray<'a> {
    document: &'a Document<'a>,
    id: NodeId,
}

pub(crate) struct Elements<'a> {
    document: &'a Document<'a>,
    children: Children<'a, 'a>,
}

impl<'a> Iterator for Elements<'a> {
    type Item = TreeNode<'a>;

    fn next(&mut self) -> Option<TreeNode<'a>> {
        let child = self.children.next()?;
        Some(TreeNode::new(self.document, child))
    }
}

impl<'a> Array<'a, DocumentJson> for TreeArray<'a> {
    type Node = TreeNode<'a>;
    type ElementsIter = Elements<'a>;

    fn len(&self) -> usize {
        self.document.children(self.id).count()
    }

    fn elements(&self) -> Elements<'a> {
        Elements {
            document: self.document,
            children: self.document.children(self.id),
        }
    }
}

/// A number as written in the source.
pub(crate) struct TreeNumber<'a>(&'a str);

impl JsonNumber for TreeNumber<'_> {
    fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.0)
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        let number = self
            .as_u64()
            .map(serde_json::Number::from)
            .or_else(|| self.as_i64().map(serde_json::Number::from))
            .or_else(|| self.as_f64().and_then(serde_json::Number::from_f64))
            .unwrap_or_else(|| serde_json::Number::from(0));
        Cow::Owned(number)
    }

    fn is_integer(&self) -> bool {
        if !self.0.contains(['.', 'e', 'E']) {
            return true;
        }
        self.as_f64().is_some_and(|f| f.fract() == 0.0)
    }
}
