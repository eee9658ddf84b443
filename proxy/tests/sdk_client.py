"""Calls the relay with the official Anthropic Python SDK; prints one JSON line per call.

Usage: sdk_client.py BASE_URL KEY MODE   (MODE: api_key | auth_token | x_api_key_header)
"""
import json
import sys

import anthropic

base_url, key, mode = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "api_key":
    client = anthropic.Anthropic(base_url=base_url, api_key=key, max_retries=0)
elif mode == "auth_token":
    client = anthropic.Anthropic(base_url=base_url, auth_token=key, api_key=None, max_retries=0)
else:
    client = anthropic.Anthropic(
        base_url=base_url, api_key=None, auth_token=None, max_retries=0, default_headers={"x-api-key": key}
    )

msg = client.messages.create(
    model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
)
print(json.dumps({"call": "create", "text": msg.content[0].text, "usage": msg.usage.model_dump(), "model": msg.model}))

with client.messages.stream(
    model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Hello"}]
) as stream:
    final = stream.get_final_message()
print(json.dumps({"call": "stream", "text": final.content[0].text, "usage": final.usage.model_dump(), "model": final.model}))
