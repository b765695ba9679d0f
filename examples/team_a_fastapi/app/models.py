"""The request body of `POST /chat` (the case study uses `ChatRequest` without showing it)."""

from pydantic import BaseModel


class ChatRequest(BaseModel):
    question: str
