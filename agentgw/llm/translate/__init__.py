"""Schema translation between LLM wire formats (OpenAI chat completions, Anthropic Messages).

Pure functions over parsed JSON and incremental stream translators over SSE bytes; no I/O.
"""

from agentgw.llm.translate.chat_to_messages import (
    MessagesStreamToChat,
    chat_request_to_messages,
    messages_error_to_chat,
    messages_response_to_chat,
)
from agentgw.llm.translate.messages_to_chat import (
    ChatStreamToMessages,
    chat_error_to_messages,
    chat_response_to_messages,
    messages_request_to_chat,
)
from agentgw.llm.translate.sse import SSEParser

__all__ = [
    "ChatStreamToMessages",
    "MessagesStreamToChat",
    "SSEParser",
    "chat_error_to_messages",
    "chat_request_to_messages",
    "chat_response_to_messages",
    "messages_error_to_chat",
    "messages_request_to_chat",
    "messages_response_to_chat",
]
